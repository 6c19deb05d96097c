"""Scheduled work and what follows a freed seat: lapse offers past their deadline, offer free
seats to the waitlist. :func:`lapse_expired_offers` (the maintenance run) commits, one
transaction per round; :func:`fill_free_seats` and :func:`lapse` leave the commit to the
caller, who holds the round's lock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from forum.db import utcnow
from forum.extensions import db
from forum.models import Round

from .. import lifecycle, notifications, waitlist
from ..lifecycle import AWAITING_ANSWER, values
from ..models import Actor, Application, Status
from . import moves
from .messages import record_text
from .seats import blocking_limit, held_counts, lock_round


def fill_free_seats(rnd: Round, now: datetime | None = None) -> list[Application]:
    """Offer free seats to the first waitlisted applications that fit the limits (when the
    round has ``auto_promote``). Those skipped because of a limit keep their place; their
    history says why. Returns the applications offered a seat."""
    if not rnd.auto_promote:
        return []
    counts = held_counts(rnd.id)
    if counts.held >= rnd.seats:
        return []
    promoted: list[Application] = []
    for application in waitlist.entries(rnd.id):
        if counts.held >= rnd.seats:
            break
        limit = blocking_limit(rnd, application, counts)
        if limit is not None:
            lifecycle.record(
                application,
                Status.WAITLISTED,
                Actor.SYSTEM,
                "Beim Nachrücken übersprungen: " + record_text(limit, rnd, application),
                from_status=Status.WAITLISTED,
            )
            continue
        moves.offer(application, rnd, Actor.SYSTEM, "Von der Warteliste nachgerückt", now=now)
        counts.add(application)
        promoted.append(application)
    return promoted


def lapse(application: Application, rnd: Round) -> None:
    """An offer past its deadline lapses (the caller fills the seat)."""
    moves.leave(application, rnd, Status.LAPSED, Actor.SYSTEM, "Frist für die Zusage verstrichen")
    notifications.notify_lapsed(application)


def lapse_expired_offers(now: datetime | None = None) -> int:
    """Maintenance: offers past their deadline lapse, and their seats go to the waitlist.
    One transaction per round, so a round's lock is held briefly."""
    now = now or utcnow()
    round_ids = list(
        db.session.scalars(
            select(Application.round_id)
            .where(
                Application.status.in_(values(AWAITING_ANSWER)),
                Application.offer_deadline < now,
            )
            .distinct()
        )
    )
    db.session.commit()
    count = 0
    for round_id in round_ids:
        rnd = lock_round(round_id)
        due = list(
            db.session.scalars(
                select(Application)
                .where(
                    Application.round_id == round_id,
                    Application.status.in_(values(AWAITING_ANSWER)),
                    Application.offer_deadline < now,
                )
                .order_by(Application.offer_deadline, Application.id)
                .execution_options(populate_existing=True)
            )
        )
        for application in due:
            lapse(application, rnd)
            count += 1
        fill_free_seats(rnd, now)
        db.session.commit()
    return count
