"""Forms of the newsletter. Field names of the public form are part of the contract:
``email``, ``name`` (optional), ``privacy_consent``, ``csrf_token``."""

from __future__ import annotations

import re

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from forum.form_limits import CONTROL, BoundedForm, single_line, strip
from forum.mail import InvalidAddress, valid_address

from .announcements import BODY_MAX, SUBJECT_MAX
from .consent import consent_text

REQUIRED = _l("Bitte füllen Sie dieses Feld aus.")


_CONTROL_EXCEPT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_EXCEPT_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_line(value):
    """One-line free text: control characters out, a tab becomes a space, surrounding spaces
    off. Line breaks stay, so that :func:`one_line` can refuse them (no header injection)."""
    if not isinstance(value, str):
        return value
    return _CONTROL_EXCEPT_LINES.sub("", value.replace("\t", " ")).strip()


def clean_text(value):
    """Multi-line free text: line breaks as ``\\n``, control characters other than line break and
    tab out."""
    if not isinstance(value, str):
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_EXCEPT_TEXT.sub("", value)


def no_control(form, field):
    """An address with control characters is refused (never cleaned silently into another)."""
    if field.data and CONTROL.search(field.data):
        raise ValidationError(_l("Die E-Mail-Adresse enthält unzulässige Steuerzeichen."))


class EmailAddress:
    def __call__(self, form, field):
        no_control(form, field)
        try:
            field.data = valid_address(field.data or "")
        except InvalidAddress:
            raise ValidationError(
                _l("Bitte geben Sie eine gültige E-Mail-Adresse an, z. B. name@gemeinde.de.")
            ) from None


def one_line(form, field):
    if field.data and any(ch in field.data for ch in "\r\n"):
        raise ValidationError(_l("Bitte ohne Zeilenumbrüche."))
    single_line(form, field)


class _ConsentLabel:
    """The versioned consent wording as the checkbox label, in the page's language."""

    def __str__(self) -> str:
        return consent_text(str(get_locale() or "de"))

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))


class ConsentField(BooleanField):
    """The consent checkbox: only an explicit yes counts (``y``, as the page sends, or ``on``,
    ``yes``, ``true``, ``1``); ``false``, ``0``, an empty value or none at all is no consent.
    It always renders with the value ``y``, whatever was posted."""

    YES = ("y", "yes", "on", "true", "1")

    def process_formdata(self, valuelist):
        self.data = bool(valuelist) and str(valuelist[0]).strip().lower() in self.YES

    def _value(self):
        return "y"


class SubscribeForm(BoundedForm):
    email = EmailField(
        _l("E-Mail-Adresse"),
        filters=[strip],
        validators=[DataRequired(REQUIRED), Length(max=254), EmailAddress()],
    )
    name = StringField(
        _l("Name (optional)"),
        filters=[clean_line],
        validators=[Optional(), Length(max=200), one_line],
    )
    privacy_consent = ConsentField(
        _ConsentLabel(),
        # DataRequired, not InputRequired: "false" is input, but no consent.
        validators=[
            DataRequired(_l("Bitte bestätigen Sie, dass Sie den Newsletter erhalten möchten."))
        ],
    )


class ButtonForm(BoundedForm):
    """A form that is only a button (and its CSRF token)."""


class AnnouncementForm(BoundedForm):
    subject = StringField(
        _l("Betreff"),
        filters=[clean_line],
        validators=[DataRequired(REQUIRED), Length(max=SUBJECT_MAX), one_line],
    )
    body = TextAreaField(
        _l("Text"),
        filters=[clean_text],
        validators=[DataRequired(REQUIRED), Length(max=BODY_MAX)],
    )
    subject_en = StringField(
        _l("Betreff auf Englisch (optional)"),
        filters=[clean_line],
        validators=[Optional(), Length(max=SUBJECT_MAX), one_line],
    )
    body_en = TextAreaField(
        _l("Text auf Englisch (optional)"),
        filters=[clean_text],
        validators=[Optional(), Length(max=BODY_MAX)],
    )

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if bool((self.subject_en.data or "").strip()) != bool((self.body_en.data or "").strip()):
            missing = self.body_en if (self.subject_en.data or "").strip() else self.subject_en
            missing.errors = [
                *missing.errors,
                _l("Bitte Betreff und Text auf Englisch angeben, oder beide leer lassen."),
            ]
            return False
        return True


class DispatchForm(BoundedForm):
    again = BooleanField(
        _l("Ja, diese Runde wurde schon angekündigt, und ich möchte sie erneut ankündigen.")
    )


class LookupForm(BoundedForm):
    class Meta:
        csrf = False  # a GET search that changes nothing

    email = StringField(
        _l("E-Mail-Adresse"),
        filters=[strip],
        validators=[DataRequired(REQUIRED), Length(max=254), no_control],
    )
