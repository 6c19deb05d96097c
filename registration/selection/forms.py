"""Forms of the selection pages. Field names of the review form are part of the contract
(PRODUCT.md): ``score-1`` … ``score-N``, ``note``, ``conflict``, ``csrf_token``."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from forum.form_limits import BoundedForm

from ..forms import REQUIRED, _one_line, clean
from .models import NOTE_MAX, TAG_MAX

SCORES = [SelectChoice(str(n), str(n)) for n in range(1, 6)]
SCORE_MESSAGE = _l("Bitte vergeben Sie 1 bis 5 Punkte.")


class ScoreField(RadioField):
    """1 to 5 points; anything else gets the same plain message."""

    def pre_validate(self, form):
        if self.data not in {c.value for c in SCORES}:
            raise ValidationError(SCORE_MESSAGE)


class _ReviewBase(BoundedForm):
    note = TextAreaField(
        _l("Notiz (nur für Sie sichtbar)"),
        filters=[clean],
        validators=[Optional(), Length(max=NOTE_MAX)],
    )
    conflict = BooleanField(
        _l("Befangenheit: Ich bewerte diese Bewerbung nicht (sie verschwindet aus meiner Liste).")
    )

    score_names: list[str] = []

    def score_fields(self):
        return [self[name] for name in self.score_names]

    def scores(self) -> list[int]:
        return [int(f.data) for f in self.score_fields()]

    def validate(self, extra_validators=None) -> bool:
        if self.conflict.data:
            # A conflict of interest needs no scores: drop their validators.
            for f in self.score_fields():
                f.validators = [Optional()]
                f.pre_validate = lambda form: None
        return super().validate(extra_validators)


def review_form(criteria: list[str], **kwargs) -> _ReviewBase:
    """The review form of a round: one radio group 1–5 per criterion, in order."""
    names = [f"score-{n}" for n in range(1, len(criteria) + 1)]
    attrs: dict[str, Any] = {
        name: ScoreField(label, choices=SCORES, validators=[InputRequired(SCORE_MESSAGE)])
        for name, label in zip(names, criteria, strict=True)
    }
    attrs["score_names"] = names
    cls = type("ReviewForm", (_ReviewBase,), attrs)
    return cls(**kwargs)


class StageForm(BoundedForm):
    """Stage (or remove) the decision for one application on the selection page."""

    application_id = StringField(validators=[DataRequired()])
    decision = RadioField(
        _l("Vorgemerkte Entscheidung"),
        choices=[
            SelectChoice("admit", _l("Zulassen")),
            SelectChoice("waitlist", _l("Warteliste")),
            SelectChoice("reject", _l("Absagen")),
            SelectChoice("none", _l("Keine")),
        ],
        validators=[InputRequired(_l("Bitte wählen Sie eine Entscheidung."))],
    )
    message = TextAreaField(
        _l("Nachricht an die*den Bewerber*in (optional, steht in der E-Mail)"),
        filters=[clean],
        validators=[Optional(), Length(max=2000)],
    )

    def validate_application_id(self, field):
        if not (field.data or "").isdigit() or not 0 < int(field.data) < 2**31:
            raise ValidationError(_l("Unbekannte Bewerbung."))


class SelectionActionForm(BoundedForm):
    """The buttons ``name="action"``: ``propose`` and ``release``."""

    action = StringField(validators=[DataRequired()])

    def validate_action(self, field):
        if field.data not in ("propose", "release"):
            raise ValidationError(_l("Unbekannte Aktion."))


class TagForm(BoundedForm):
    tag = StringField(
        _l("Schlagwort"),
        filters=[clean],
        validators=[DataRequired(REQUIRED), Length(max=TAG_MAX), _one_line],
    )


class RemoveTagForm(BoundedForm):
    tag = StringField(filters=[clean], validators=[DataRequired(), Length(max=TAG_MAX)])


class NoteForm(BoundedForm):
    text = TextAreaField(
        _l("Interne Notiz (für alle Organisator*innen des Forums)"),
        filters=[clean],
        validators=[DataRequired(REQUIRED), Length(max=NOTE_MAX)],
    )
