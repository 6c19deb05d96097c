"""Forms of the newsletter. Field names of the public form are part of the contract:
``email``, ``name`` (optional), ``privacy_consent``, ``csrf_token``."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from .announcements import BODY_MAX, SUBJECT_MAX
from .consent import consent_text

REQUIRED = _l("Bitte füllen Sie dieses Feld aus.")


def strip(value):
    return value.strip() if isinstance(value, str) else value


class EmailAddress:
    def __call__(self, form, field):
        try:
            field.data = validate_email(
                field.data or "", check_deliverability=False, allow_smtputf8=False
            ).normalized
        except EmailNotValidError:
            raise ValidationError(
                _l("Bitte geben Sie eine gültige E-Mail-Adresse an, z. B. name@gemeinde.de.")
            ) from None


def one_line(form, field):
    if field.data and any(ch in field.data for ch in "\r\n\x00"):
        raise ValidationError(_l("Bitte ohne Zeilenumbrüche."))


class _ConsentLabel:
    """The versioned consent wording as the checkbox label, in the page's language."""

    def __str__(self) -> str:
        return consent_text(str(get_locale() or "de"))

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))


class SubscribeForm(FlaskForm):
    email = EmailField(
        _l("E-Mail-Adresse"),
        filters=[strip],
        validators=[DataRequired(REQUIRED), Length(max=254), EmailAddress()],
    )
    name = StringField(
        _l("Name (optional)"),
        filters=[strip],
        validators=[Optional(), Length(max=200), one_line],
    )
    privacy_consent = BooleanField(
        _ConsentLabel(),
        validators=[
            InputRequired(_l("Bitte bestätigen Sie, dass Sie den Newsletter erhalten möchten."))
        ],
    )


class ButtonForm(FlaskForm):
    """A form that is only a button (and its CSRF token)."""


class AnnouncementForm(FlaskForm):
    subject = StringField(
        _l("Betreff"),
        filters=[strip],
        validators=[DataRequired(REQUIRED), Length(max=SUBJECT_MAX), one_line],
    )
    body = TextAreaField(
        _l("Text"),
        validators=[DataRequired(REQUIRED), Length(max=BODY_MAX)],
    )


class DispatchForm(FlaskForm):
    again = BooleanField(
        _l("Ja, diese Runde wurde schon angekündigt, und ich möchte sie erneut ankündigen.")
    )


class LookupForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search that changes nothing

    email = StringField(
        _l("E-Mail-Adresse"), filters=[strip], validators=[DataRequired(REQUIRED), Length(max=254)]
    )
