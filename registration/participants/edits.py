"""Applicants change their own application from the status page while it is ``submitted`` or
``waitlisted``: contact and organisation, the texts, and state, role and body type (checked
against the round's rules, as on the form). The history records what changed, so organizers see
it; short values with old and new value, the long texts only that they changed (the page shows
the current text)."""

from __future__ import annotations

from dataclasses import dataclass, field

from forum.codes import BODY_TYPES, DEPARTMENTS, ROLES, STATES, label

from .. import admission, eligibility, lifecycle
from ..models import Actor, Application, Status
from ..services import normalize_organisation

EDITABLE = lifecycle.DECIDABLE

#: The prefix of the history entry; erasure keeps only this (the values name the person).
EDIT_NOTE = "Angaben geändert"

_NAMES = {
    "phone": "Telefon",
    "organisation": "Kommune / Organisation",
    "body_type": "Art der Kommune",
    "state": "Bundesland",
    "role": "Funktion",
    "department": "Bereich",
    "motivation": "Motivation",
    "challenge": "Herausforderung",
}
_CODES = {"body_type": BODY_TYPES, "state": STATES, "role": ROLES, "department": DEPARTMENTS}
_LONG = ("motivation", "challenge")


@dataclass
class EditResult:
    outcome: str  # changed, unchanged, refused, ineligible
    changed: list[str] = field(default_factory=list)
    failures: list = field(default_factory=list)  # eligibility.Failure


def can_edit(application: Application) -> bool:
    return application.status in EDITABLE and application.anonymised_at is None


def _shown(name: str, value: str) -> str:
    if name in _CODES:
        return label(_CODES[name], value) or "–"
    return value or "–"


def edit_application(application: Application, values: dict[str, str]) -> EditResult:
    """Apply the applicant's changes (the caller commits). Under the round's lock, so that a
    decision at the same moment is not overtaken by a stale status."""
    rnd = admission.lock_round(application.round_id)
    admission.reload([application])
    if not can_edit(application):
        return EditResult("refused")
    failures = eligibility.check(rnd, values["state"], values["role"], values["body_type"])
    if failures:
        return EditResult("ineligible", failures=failures)
    changed = [name for name, value in values.items() if getattr(application, name) != value]
    if not changed:
        return EditResult("unchanged")
    parts = []
    for name in changed:
        old, new = getattr(application, name), values[name]
        if name in _LONG:
            parts.append(f"{_NAMES[name]} neu gefasst")
        else:
            parts.append(f"{_NAMES[name]}: {_shown(name, old)} → {_shown(name, new)}")
        setattr(application, name, new)
    application.organisation_normalized = normalize_organisation(application.organisation)
    status = Status(application.status)
    lifecycle.record(
        application,
        status,
        Actor.APPLICANT,
        f"{EDIT_NOTE}: " + "; ".join(parts),
        from_status=status,
    )
    return EditResult("changed", changed=changed)
