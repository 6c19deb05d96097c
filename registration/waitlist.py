"""Waitlist positions: always 1..n per round, without gaps or duplicates.

The database refuses duplicate positions in a round (a unique index), and both databases check
that index row by row during an UPDATE. Shifting a run of positions by one in a single
statement could therefore collide with itself; every shift here goes through negative numbers
first (no position is ever negative otherwise), which keeps each intermediate row unique.

The caller holds the round's lock (:func:`registration.admission.lock_round`): these
functions read the highest position and then write, which is only safe serialized.
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from forum.extensions import db

from .lifecycle import ON_WAITLIST, values
from .models import Application

_SYNC = {"synchronize_session": "fetch"}


def length(round_id: int) -> int:
    return db.session.scalars(
        select(func.count(Application.id)).where(
            Application.round_id == round_id, Application.waitlist_position.is_not(None)
        )
    ).one()


def next_position(round_id: int) -> int:
    highest = db.session.scalar(
        select(func.max(Application.waitlist_position)).where(Application.round_id == round_id)
    )
    return (highest or 0) + 1


def entries(round_id: int) -> list[Application]:
    """The waitlist in order (fresh from the database)."""
    return list(
        db.session.scalars(
            select(Application)
            .where(
                Application.round_id == round_id,
                Application.status.in_(values(ON_WAITLIST)),
            )
            .order_by(Application.waitlist_position)
            .execution_options(populate_existing=True)
        )
    )


def close_gap(round_id: int, position: int | None) -> None:
    """Someone left the waitlist at ``position``: everyone behind moves up by one."""
    if position is None:
        return
    table = Application
    db.session.execute(
        update(table)
        .where(table.round_id == round_id, table.waitlist_position > position)
        .values(waitlist_position=-(table.waitlist_position - 1))
        .execution_options(**_SYNC)
    )
    db.session.execute(
        update(table)
        .where(table.round_id == round_id, table.waitlist_position < 0)
        .values(waitlist_position=-table.waitlist_position)
        .execution_options(**_SYNC)
    )


def move(application: Application, position: int) -> tuple[int | None, int | None]:
    """Move a waitlisted application to ``position`` (clamped to 1..n); the entries in between
    shift by one. Returns (old, new) position."""
    table = Application
    round_id = application.round_id
    old = application.waitlist_position
    new = max(1, min(position, length(round_id)))
    if old is None or new == old:
        return old, old
    low, high = min(old, new), max(old, new)
    delta = 1 if new < old else -1
    db.session.execute(
        update(table)
        .where(table.round_id == round_id, table.waitlist_position.between(low, high))
        .values(waitlist_position=-table.waitlist_position)
        .execution_options(**_SYNC)
    )
    db.session.execute(
        update(table)
        .where(
            table.round_id == round_id,
            table.waitlist_position < 0,
            table.id != application.id,
        )
        .values(waitlist_position=-table.waitlist_position + delta)
        .execution_options(**_SYNC)
    )
    db.session.execute(
        update(table)
        .where(table.id == application.id)
        .values(waitlist_position=new)
        .execution_options(**_SYNC)
    )
    return old, new
