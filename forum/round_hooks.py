"""What the base tells the domain when a round or its meetings change.

Who holds a seat is :mod:`registration`'s to know, but rounds and meetings are changed here (the
forum file, the organizer pages). So ``registration`` registers three functions with
:func:`register_round_hooks` (as it registers maintenance tasks and personal data), and this
module calls them; without them (the base alone) a round has no seat holders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, current_app

from .models import Meeting, Round

#: The meeting fields whose change is mailed to seat holders (with a calendar update).
NOTIFIED_FIELDS = ("starts", "ends", "venue", "address")


@dataclass
class HeldSeats:
    """Seats held (offered + accepted) in a round: in total, and the most held by one state
    and by one organisation (what ``max_per_state`` / ``max_per_organisation`` must allow)."""

    total: int = 0
    max_per_state: int = 0
    max_per_organisation: int = 0


@dataclass
class MeetingChange:
    """One meeting that seat holders must hear of: moved (``changed`` names the fields, ``old``
    their values before), cancelled, or taken back from cancelled."""

    meeting: Meeting
    old: dict[str, Any] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def new(self) -> dict[str, Any]:
        return {name: getattr(self.meeting, name) for name in self.changed}


@dataclass
class RoundHooks:
    held_seats: Callable[[int], HeldSeats]
    meetings_changed: Callable[[Round, list[MeetingChange]], int]
    capacity_raised: Callable[[Round], int]


def register_round_hooks(app: Flask, hooks: RoundHooks) -> None:
    app.extensions["round_hooks"] = hooks


def _hooks() -> RoundHooks | None:
    return current_app.extensions.get("round_hooks")


def held_seats(round_id: int) -> HeldSeats:
    """Seats held in the round. The caller holds the round's lock (``lock_row``)."""
    hooks = _hooks()
    return hooks.held_seats(round_id) if hooks else HeldSeats()


def meetings_changed(rnd: Round, changes: list[MeetingChange]) -> int:
    """Tell the seat holders (mails in the current transaction); returns how many were queued."""
    hooks = _hooks()
    return hooks.meetings_changed(rnd, changes) if hooks and changes else 0


def capacity_raised(rnd: Round) -> int:
    """More seats (or wider limits): offer them to the waitlist now. Returns how many."""
    hooks = _hooks()
    return hooks.capacity_raised(rnd) if hooks else 0


def snapshot(meeting: Meeting) -> dict[str, datetime | str]:
    return {name: getattr(meeting, name) for name in NOTIFIED_FIELDS}
