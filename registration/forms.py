"""The public application form. Field names are part of the contract (PRODUCT.md)."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from forum.codes import (
    BODY_TYPES,
    DEPARTMENTS,
    MUNICIPAL_BODY_TYPES,
    MUNICIPAL_ROLES,
    ROLES,
    STATES,
    is_open_format,
    offered_codes,
)
from forum.form_limits import BoundedForm, clean, single_line, strip
from forum.mail import InvalidAddress, valid_address
from forum.newsletter.consent import consent_text

from .models import APPLICATION_FIELDS
from .network import SHARE_CONTACT_TEXT


def _choices(table: dict, placeholder) -> list[SelectChoice]:
    return [SelectChoice("", placeholder)] + [
        SelectChoice(code, label) for code, label in table.items()
    ]


class EmailAddress:
    """Syntax check with email-validator (no DNS look-up: it must work offline).

    Umlauts before the @ (``jürgen@…``) need SMTPUTF8, which many municipal mail servers do
    not offer: such addresses are refused with a clear message rather than accepted and never
    reached. Umlaut domains are kept in their ASCII form (``xn--…``), which every server takes.
    """

    def __call__(self, form, field):
        value = field.data or ""
        try:
            field.data = valid_address(value)
        except InvalidAddress:
            local = value.rpartition("@")[0]
            if local and not local.isascii():
                raise ValidationError(
                    _l(
                        "Bitte geben Sie die Adresse ohne Umlaute oder ß vor dem @ an "
                        "(z. B. juergen@gemeinde.de); solche Adressen erreichen viele "
                        "Mailserver nicht."
                    )
                ) from None
            raise ValidationError(
                _l("Bitte geben Sie eine gültige E-Mail-Adresse an, z. B. name@gemeinde.de.")
            ) from None


_one_line = single_line  # no line breaks, control or invisible format characters

REQUIRED = _l("Bitte füllen Sie dieses Feld aus.")
CHOOSE = _l("Bitte wählen Sie aus.")


class ApplicationForm(BoundedForm):
    first_name = StringField(
        _l("Vorname"),
        filters=[strip],
        validators=[DataRequired(REQUIRED), Length(max=100), _one_line],
    )
    last_name = StringField(
        _l("Nachname"),
        filters=[strip],
        validators=[DataRequired(REQUIRED), Length(max=100), _one_line],
    )
    email = EmailField(
        _l("E-Mail-Adresse"),
        filters=[strip],
        validators=[DataRequired(REQUIRED), Length(max=254), EmailAddress()],
    )
    phone = TelField(
        _l("Telefon (optional)"),
        filters=[strip],
        validators=[Optional(), Length(max=40), _one_line],
    )
    organisation = StringField(
        _l("Kommune / Organisation"),
        filters=[strip],
        validators=[DataRequired(REQUIRED), Length(max=200), _one_line],
    )
    body_type = SelectField(
        _l("Art der Kommune"),
        choices=_choices(BODY_TYPES, _l("– bitte wählen –")),
        validators=[InputRequired(CHOOSE)],
        validate_choice=False,
    )
    state = SelectField(
        _l("Bundesland"),
        choices=_choices(STATES, _l("– bitte wählen –")),
        validators=[InputRequired(CHOOSE)],
        validate_choice=False,
    )
    role = SelectField(
        _l("Funktion"),
        choices=_choices(ROLES, _l("– bitte wählen –")),
        validators=[InputRequired(CHOOSE)],
        validate_choice=False,
    )
    department = SelectField(
        _l("Bereich (optional)"),
        choices=_choices(DEPARTMENTS, _l("– keine Angabe –")),
        # No Optional(): it would stop at a value of spaces and let it through; the check
        # below allows a code or nothing.
        validate_choice=False,
    )
    motivation = TextAreaField(
        _l("Ihre Motivation"),
        filters=[clean],
        validators=[DataRequired(REQUIRED), Length(max=5000)],
    )
    challenge = TextAreaField(
        _l("Eine aktuelle Herausforderung in Ihrer Kommune (für die kollegiale Beratung)"),
        filters=[clean],
        validators=[DataRequired(REQUIRED), Length(max=5000)],
    )
    commitment = BooleanField(
        _l("Ich nehme verbindlich an allen Arbeitstreffen teil."),
        validators=[DataRequired(_l("Die Teilnahme an allen Treffen ist Voraussetzung."))],
    )
    privacy_consent = BooleanField(
        _l(
            "Ich habe die Datenschutzhinweise gelesen und willige in die Verarbeitung meiner "
            "Angaben für dieses Bewerbungsverfahren ein."
        ),
        validators=[
            DataRequired(_l("Ohne Ihre Einwilligung können wir die Bewerbung nicht bearbeiten."))
        ],
    )
    # The label is the newsletter's versioned consent wording (set in __init__), because the
    # consent record stores exactly that text.
    newsletter = BooleanField()
    # Optional (issue 13): the participant list; its wording is versioned (registration.network).
    share_contact = BooleanField(SHARE_CONTACT_TEXT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.newsletter.label.text = consent_text(str(get_locale() or "de"))

    def for_round(self, rnd) -> ApplicationForm:
        """Offer the codes of the open formats only where the round accepts them; a round open
        beyond municipal administrations asks for the "Art der Organisation"."""
        placeholder = _l("– bitte wählen –")
        for name, table, municipal, accepted in (
            ("body_type", BODY_TYPES, MUNICIPAL_BODY_TYPES, rnd.body_types),
            ("role", ROLES, MUNICIPAL_ROLES, rnd.roles),
        ):
            codes = offered_codes(table, municipal, accepted)
            getattr(self, name).choices = [SelectChoice("", placeholder)] + [
                SelectChoice(code, table[code]) for code in codes
            ]
        if is_open_format(rnd):
            self.body_type.label.text = _l("Art der Organisation")
            self.organisation.label.text = _l("Organisation (Privatpersonen: Wohnort)")
        return self

    def offer_only(self, rnd) -> None:
        """Offer in the three eligibility lists only what the round accepts (a list the round
        leaves empty accepts all). A value already given that the round does not accept (from
        a link's query string) stays selectable, so that the eligibility check can say why."""
        for name, table in (("state", STATES), ("role", ROLES), ("body_type", BODY_TYPES)):
            allowed = getattr(rnd, name + "s") or list(table)
            field = getattr(self, name)
            codes = [c for c in table if c in allowed or c == field.data]
            field.choices = [field.choices[0]] + [SelectChoice(c, table[c]) for c in codes]

    def validate_body_type(self, field):
        if field.data not in BODY_TYPES:
            raise ValidationError(CHOOSE)

    def validate_state(self, field):
        if field.data not in STATES:
            raise ValidationError(CHOOSE)

    def validate_role(self, field):
        if field.data not in ROLES:
            raise ValidationError(CHOOSE)

    def validate_department(self, field):
        if field.data and field.data not in DEPARTMENTS:
            raise ValidationError(CHOOSE)


class ConfirmForm(BoundedForm):
    """A button only: the state change happens on POST, never on the GET a scanner makes."""


#: What the query string may prefill: the entries, without the free texts.
PREFILL_FIELDS = tuple(f for f in APPLICATION_FIELDS if f not in ("motivation", "challenge"))


# --- applicants: offer and status page -------------------------------------------------------


class OfferForm(BoundedForm):
    """Accept or decline an offered seat: the buttons are ``name="action"``."""

    action = StringField(validators=[DataRequired(), AnyOf(["accept", "decline"])])


class WithdrawForm(BoundedForm):
    confirm = BooleanField(
        _l("Ja, ich ziehe meine Bewerbung zurück."),
        validators=[DataRequired(_l("Bitte bestätigen Sie, dass Sie zurückziehen möchten."))],
    )


# --- organizers ----------------------------------------------------------------------------------


class DecisionForm(BoundedForm):
    """POST ``/admin/applications/<id>/decision``: ``action`` = admit | waitlist | reject."""

    action = RadioField(
        _l("Entscheidung"),
        choices=[
            SelectChoice("admit", _l("Zulassen (Platz anbieten; ist keiner frei: Warteliste)")),
            SelectChoice("waitlist", _l("Auf die Warteliste setzen")),
            SelectChoice("reject", _l("Absagen")),
        ],
        validators=[InputRequired(_l("Bitte wählen Sie eine Entscheidung."))],
    )
    message = TextAreaField(
        _l("Nachricht an die*den Bewerber*in (optional, steht in der E-Mail)"),
        filters=[clean],
        validators=[Optional(), Length(max=2000)],
    )


MAX_ID = 2**31 - 1  # the largest id an INTEGER column holds


class BulkDecisionForm(DecisionForm):
    """The same decision for several applications selected in the list."""

    ids = SelectMultipleField(
        _l("Auswahl"),
        coerce=int,
        validate_choice=False,
        validators=[DataRequired(_l("Bitte wählen Sie mindestens eine Bewerbung aus."))],
    )

    def validate_ids(self, field):
        if len(field.data or []) > 500:
            raise ValidationError(_l("Bitte höchstens 500 Bewerbungen auf einmal."))
        if any(not 0 < n <= MAX_ID for n in field.data):
            raise ValidationError(_l("Die Auswahl enthält ungültige Einträge."))


class RevokeForm(BoundedForm):
    reason = TextAreaField(
        _l("Begründung (steht in der Historie und in der E-Mail an die Person)"),
        filters=[clean],
        validators=[DataRequired(REQUIRED), Length(max=2000)],
    )


class MoveForm(BoundedForm):
    position = IntegerField(
        _l("Neuer Platz auf der Warteliste"),
        validators=[
            InputRequired(_l("Bitte geben Sie eine Zahl an.")),
            NumberRange(min=1, max=100_000, message=_l("Bitte eine Zahl ab 1.")),
        ],
    )
    reason = StringField(
        _l("Grund (steht in der Historie)"),
        filters=[clean],
        validators=[DataRequired(REQUIRED), Length(max=500), _one_line],
    )


class LiftSuppressionForm(BoundedForm):
    reason = StringField(
        _l("Grund (steht im Verlauf), z. B. „neue Adresse mitgeteilt“"),
        filters=[clean],
        validators=[DataRequired(REQUIRED), Length(max=500), _one_line],
    )


class InvitationUploadForm(BoundedForm):
    """The organizer page's upload of an invitation list (the same file as ``round invite``)."""

    file = FileField(
        _l(
            "CSV-Datei (Spalten email, first_name, last_name; optional organisation, state, role, "
            "body_type)"
        ),
        validators=[FileRequired(_l("Bitte wählen Sie eine Datei aus."))],
    )


class ShareContactForm(BoundedForm):
    """On the status page: give or withdraw the ``share_contact`` consent."""

    share_contact = BooleanField(SHARE_CONTACT_TEXT)


class GroupCreateForm(BoundedForm):
    name = StringField(
        _l("Name der Gruppe"),
        filters=[clean],
        validators=[DataRequired(REQUIRED), Length(max=100), _one_line],
    )


class GroupProposeForm(BoundedForm):
    size = IntegerField(
        _l("Höchstens Personen je Gruppe"),
        validators=[
            InputRequired(_l("Bitte geben Sie eine Zahl an.")),
            NumberRange(min=1, max=1000, message=_l("Bitte eine Zahl von 1 bis 1000.")),
        ],
    )


class GroupAssignForm(BoundedForm):
    """One select ``group-<application id>`` per seat holder, value a group id or empty."""

    def assignment(self, formdata) -> dict[int, int | None] | None:
        """The choices, or None if a field is not of that shape."""
        result: dict[int, int | None] = {}
        for key, value in formdata.items():
            if not key.startswith("group-"):
                continue
            try:
                application_id = int(key.removeprefix("group-"))
                group_id = int(value) if value else None
            except ValueError:
                return None
            if not 0 < application_id <= MAX_ID or (
                group_id is not None and not 0 < group_id <= MAX_ID
            ):
                return None
            result[application_id] = group_id
        return result
