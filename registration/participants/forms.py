"""Forms of the organizer pages for running a round."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from forum.form_limits import BoundedForm, single_line

from ..forms import REQUIRED, clean
from .messages import AUDIENCES, BODY_MAX, SUBJECT_MAX


class MessageForm(BoundedForm):
    audience = RadioField(
        _l("An wen"),
        choices=[SelectChoice(name, a.label) for name, a in AUDIENCES.items()],
        validators=[InputRequired(_l("Bitte wählen Sie aus, an wen die Nachricht geht."))],
    )
    # Choices (the round's groups) are set by the page; "" is the whole audience.
    group = SelectField(
        _l("Nur an eine Gruppe (optional)"), choices=[SelectChoice("", "")], default=""
    )
    subject = StringField(
        _l("Betreff"),
        filters=[clean],
        validators=[DataRequired(REQUIRED), Length(max=SUBJECT_MAX), single_line],
    )
    body = TextAreaField(
        _l("Nachricht (Markdown)"),
        filters=[clean],
        validators=[DataRequired(REQUIRED), Length(max=BODY_MAX)],
    )


class MeetingNotesForm(BoundedForm):
    agenda = TextAreaField(_l("Tagesordnung (Markdown)"), validators=[Length(max=20_000)])
    documentation = TextAreaField(
        _l("Dokumentation (Markdown, z. B. Ergebnisse und Unterlagen)"),
        validators=[Length(max=20_000)],
    )


class AttendanceForm(BoundedForm):
    """Only the CSRF token; the ``status-<id>`` fields are read by
    :func:`registration.participants.attendance.parse_form`."""


def _from_application_form():
    """The applicant's editable fields, with the same labels and checks as the public form."""
    from ..forms import ApplicationForm

    names = ("phone", "organisation", "body_type", "state", "role", "department")
    names += ("motivation", "challenge")
    attrs = {name: getattr(ApplicationForm, name) for name in names}
    for name in ("body_type", "state", "role", "department"):
        attrs[f"validate_{name}"] = getattr(ApplicationForm, f"validate_{name}")
    return type("EditApplicationForm", (BoundedForm,), attrs)


#: ``/status/<token>/edit``: what an applicant may change while the application is
#: ``submitted`` or ``waitlisted``.
EditApplicationForm = _from_application_form()
EDITABLE_FIELDS = (
    "phone",
    "organisation",
    "body_type",
    "state",
    "role",
    "department",
    "motivation",
    "challenge",
)
