"""Seats and limits: the round's lock, the held seats counted, the limit a new seat would
exceed.

Every function of the package that checks capacity or changes the waitlist first takes the
round's lock (:func:`lock_round`: ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the write
transaction already holds the database's write lock since ``BEGIN IMMEDIATE``) and re-reads the
applications it acts on, so that two organizers admitting at the same moment see each other's
seats.

Seats held = the lifecycle's ``HOLDING`` statuses (offered + accepted). Three limits: the
round's seats, ``max_per_state`` (held seats per state) and ``max_per_organisation`` (held seats
per normalised organisation; a private person stands for no organisation).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import func, select

from forum.codes import PRIVATE
from forum.db import lock_row
from forum.extensions import db
from forum.models import Round

from .. import lifecycle
from ..models import Application


class Limit(StrEnum):
    SEATS = "seats"
    STATE = "state"
    ORGANISATION = "organisation"


def lock_round(round_id: int) -> Round:
    """Take the round's lock and bump its version (so concurrent writers serialize on this row
    on every database). Call before counting seats or touching the waitlist."""
    rnd = lock_row(Round, round_id)
    rnd.version = (rnd.version or 0) + 1
    return rnd


def reload(applications: Iterable[Application]) -> None:
    """Read the applications again after the lock: what was read before may be stale."""
    ids = [a.id for a in applications]
    if ids:
        list(
            db.session.scalars(
                select(Application)
                .where(Application.id.in_(ids))
                .execution_options(populate_existing=True)
            )
        )


def lock_for(application: Application) -> Round:
    """Lock the application's round, then read the application again."""
    rnd = lock_round(application.round_id)
    reload([application])
    return rnd


def _organisation_counts(body_type: str) -> bool:
    # A private person stands for no organisation (what they enter is where they live).
    return body_type != PRIVATE


@dataclass
class Counts:
    held: int = 0
    by_state: Counter = field(default_factory=Counter)
    by_organisation: Counter = field(default_factory=Counter)

    def add(self, application: Application, n: int = 1) -> None:
        self.add_row(
            application.state, application.organisation_normalized, application.body_type, n
        )

    def add_row(self, state: str, organisation: str, body_type: str, n: int = 1) -> None:
        self.held += n
        self.by_state[state] += n
        if _organisation_counts(body_type):
            self.by_organisation[organisation] += n


def held_counts(round_id: int) -> Counts:
    """Held seats of a round, in total, per state and per organisation (one query)."""
    counts = Counts()
    rows = db.session.execute(
        select(
            Application.state,
            Application.organisation_normalized,
            Application.body_type,
            func.count(),
        )
        .where(
            Application.round_id == round_id,
            Application.status.in_(lifecycle.values(lifecycle.HOLDING)),
        )
        .group_by(Application.state, Application.organisation_normalized, Application.body_type)
    )
    for state, organisation, body_type, n in rows:
        counts.add_row(state, organisation, body_type, n)
    return counts


def blocking_limit(rnd: Round, application: Application, counts: Counts) -> Limit | None:
    """The first limit that a new seat for ``application`` would exceed, or None."""
    if counts.held >= rnd.seats:
        return Limit.SEATS
    if rnd.max_per_state is not None and counts.by_state[application.state] >= rnd.max_per_state:
        return Limit.STATE
    if (
        rnd.max_per_organisation is not None
        and _organisation_counts(application.body_type)
        and counts.by_organisation[application.organisation_normalized] >= rnd.max_per_organisation
    ):
        return Limit.ORGANISATION
    return None
