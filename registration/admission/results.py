"""What a decision or an applicant's action came to, as codes: the words for people are in
:mod:`registration.admission.messages`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ..lifecycle import Action, Status
from ..models import Application
from .seats import Limit


class DecisionOutcome(StrEnum):
    OFFERED = "offered"
    WAITLISTED = "waitlisted"  # admit could not give a seat: put on the waitlist instead
    REJECTED = "rejected"
    REVOKED = "revoked"
    MOVED = "moved"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"
    UNCHANGED = "unchanged"  # nothing to do (already in that state)
    REFUSED = "refused"  # not possible from the current status or because of a limit


@dataclass
class Result:
    """``action``: what was asked; ``status``: the status it was asked in; ``limit``: the limit
    that kept a seat from it; ``position``: its waitlist place right after."""

    application: Application
    outcome: DecisionOutcome
    action: Action | None = None
    status: Status | None = None
    limit: Limit | None = None
    position: int | None = None
    promoted: list[Application] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.outcome not in (DecisionOutcome.UNCHANGED, DecisionOutcome.REFUSED)


def result(
    application: Application,
    outcome: DecisionOutcome,
    action: Action | None = None,
    *,
    status: Status | None = None,
    limit: Limit | None = None,
    promoted: list[Application] | None = None,
) -> Result:
    """A result with the application's waitlist place as it is now."""
    return Result(
        application,
        outcome,
        action,
        status,
        limit,
        application.waitlist_position,
        promoted or [],
    )
