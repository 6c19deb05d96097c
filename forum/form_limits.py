"""Forms that never echo more than a field may hold, and strict single-line fields.

A refused form is shown again with what was sent, so that nobody has to type it twice. A value
longer than its field's ``Length(max=…)`` is refused, and echoed only up to that limit: an
oversized post must not come back as an equally oversized page."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from babel import support
from flask_babel import LazyString, get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.i18n import messages_path
from wtforms.validators import Length, ValidationError

#: Format characters a name may need: zero-width joiner and non-joiner (e.g. in Persian or
#: Indic scripts, and in emoji sequences).
NAME_FORMAT_CHARACTERS = frozenset("\u200c\u200d")
#: Unicode categories refused in one-line fields: controls (C0, DEL, C1 such as U+0085),
#: invisible format characters (bidi overrides, zero-width spaces, ...), line and paragraph
#: separators (U+2028, U+2029).
_REFUSED = frozenset({"Cc", "Cf", "Zl", "Zp"})


#: C0 control characters and DEL (PostgreSQL cannot store NUL; none belongs in a form's text).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def strip(value):
    """Filter: surrounding spaces off."""
    return value.strip() if isinstance(value, str) else value


def clean(value):
    """Filter for free text: surrounding spaces off, NUL characters out (PostgreSQL cannot
    store them)."""
    return value.replace("\x00", "").strip() if isinstance(value, str) else value


def is_single_line(value: str) -> bool:
    return not any(
        unicodedata.category(ch) in _REFUSED and ch not in NAME_FORMAT_CHARACTERS for ch in value
    )


def single_line(form, field) -> None:
    """Validator for names, organisations, phone numbers and other one-line text."""
    if isinstance(field.data, str) and not is_single_line(field.data):
        raise ValidationError(_l("Bitte ohne Zeilenumbrüche und ohne Steuerzeichen."))


def max_length(field: Field) -> int | None:
    """The smallest ``Length(max=…)`` among the field's validators, or None."""
    limits = [
        v.max
        for v in field.validators
        if isinstance(v, Length) and v.max is not None and v.max >= 0
    ]
    return min(limits) if limits else None


def clip_echo(form) -> None:
    """Cut what each field would show again (``raw_data`` and ``data``) to its limit."""
    for field in form:
        limit = max_length(field)
        if limit is None:
            continue
        if field.raw_data:
            field.raw_data = [
                value[:limit] if isinstance(value, str) else value for value in field.raw_data
            ]
        if isinstance(field.data, str) and len(field.data) > limit:
            field.data = field.data[:limit]


@cache
def wtforms_translations(locale: str) -> support.NullTranslations:
    """WTForms' own messages ("Not a valid choice", …) for a locale, parsed once per process.
    Flask-WTF would parse the catalog again on every request."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class _CachedTranslations:
    """The ``get_translations`` answer of :class:`BoundedForm`: the request's locale, its
    catalog from :func:`wtforms_translations`."""

    def gettext(self, string: str) -> str:
        return wtforms_translations(str(get_locale() or "de")).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return wtforms_translations(str(get_locale() or "de")).ungettext(singular, plural, n)


_TRANSLATIONS = _CachedTranslations()


class BoundedForm(FlaskForm):
    """A FlaskForm whose refused values are echoed up to their field's limit only."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            return _TRANSLATIONS

        def build_csrf(self, form):
            # The form's CSRF token (a signature) is made when a page shows it, not with the
            # form: a POST answered with a redirect does not sign one it never sends.
            csrf = super().build_csrf(form)
            make = csrf.generate_csrf_token
            csrf.generate_csrf_token = lambda field: LazyString(make, field)
            return csrf

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if not ok:
            clip_echo(self)
        return ok
