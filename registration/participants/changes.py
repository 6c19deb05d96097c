"""The base changed a round (forum file or organizer page); this module answers its questions
and tells the seat holders. Registered in :func:`registration.init_app`."""

from __future__ import annotations

from sqlalchemy import select

from forum.extensions import db
from forum.models import Round
from forum.round_hooks import HeldSeats, MeetingChange, RoundHooks

from .. import admission, notifications
from ..lifecycle import HOLDING, values
from ..models import Application


def held_seats(round_id: int) -> HeldSeats:
    counts = admission.held_counts(round_id)
    return HeldSeats(
        total=counts.held,
        max_per_state=max(counts.by_state.values(), default=0),
        max_per_organisation=max(counts.by_organisation.values(), default=0),
    )


def capacity_raised(rnd: Round) -> int:
    """The round (locked by the caller) has more room: offer it to the waitlist at once."""
    return len(admission.fill_free_seats(rnd))


def seat_holders(round_id: int) -> list[Application]:
    return list(
        db.session.scalars(
            select(Application)
            .where(
                Application.round_id == round_id,
                Application.status.in_(values(HOLDING)),
            )
            .order_by(Application.id)
        )
    )


def meetings_changed(rnd: Round, changes: list[MeetingChange]) -> int:
    """One mail per seat holder and changed meeting, each with the meeting's calendar update.
    Returns how many were queued."""
    queued = 0
    holders = seat_holders(rnd.id)
    for change in changes:
        for application in holders:
            if notifications.notify_meeting_changed(application, change):
                queued += 1
    return queued


HOOKS = RoundHooks(
    held_seats=held_seats, meetings_changed=meetings_changed, capacity_raised=capacity_raised
)
