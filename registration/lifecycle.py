"""The application lifecycle of PRODUCT.md, in one place.

:data:`TABLE` is the only source of the rules: which status may follow which, who may make the
change (applicant, organizer, system), and which fields the change sets and clears. Everything
else asks it: :func:`can` (may this actor move this application there?), :func:`allowed_actions`
(which buttons a page shows), and the named sets derived from the table (:data:`LIVE`,
:data:`HOLDING`, :data:`AWAITING_ANSWER`, :data:`ON_WAITLIST` …) with their predicates, which
templates use as Jinja tests (:data:`TESTS`: ``{% if a is holding_seat %}``). No other module
compares a status with a literal or lists a set of statuses (``tests/test_shared_statuses.py``);
the words for a status are in :mod:`registration.admission.messages`. Every status change goes
through :func:`transition`, which refuses what the table does not allow for that actor and
writes a history row (time, actor, from, to, reason). Nothing else assigns
``Application.status``.

    pending_email --confirm--> submitted --admit--> offered --accept--> accepted --withdraw-->
          |                       |  \\--waitlist--> waitlisted --promotion--> offered
          |                       \\--reject--> rejected          offered --decline--> declined
          \\--no confirmation in time--> expired                  offered --deadline--> lapsed

Every live status may also go to ``withdrawn``: by the applicant (not before the address is
confirmed), or by the system when the person asks for their data to be erased.

This module imports no model at load time (the models import the table for the index of live
applications); the functions take the application they change.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from forum.db import utcnow
from forum.enum_column import status_test
from forum.extensions import db

if TYPE_CHECKING:
    from .models import Application, ApplicationEvent


class Status(enum.StrEnum):
    PENDING_EMAIL = "pending_email"
    SUBMITTED = "submitted"
    WAITLISTED = "waitlisted"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DECLINED = "declined"
    LAPSED = "lapsed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    REVOKED = "revoked"


class Actor(enum.StrEnum):
    APPLICANT = "applicant"
    ORGANIZER = "organizer"
    SYSTEM = "system"


class Field(enum.StrEnum):
    """The fields of an application that belong to its status."""

    WAITLIST_POSITION = "waitlist_position"
    OFFER_DEADLINE = "offer_deadline"
    CONFIRM_DEADLINE = "confirm_deadline"
    CONFIRMED_AT = "confirmed_at"


S = Status
A = Actor
F = Field


@dataclass(frozen=True)
class Rule:
    """One allowed transition: who may make it, which fields it sets (the caller gives the
    value, ``confirmed_at`` is the time of the change) and which it clears."""

    source: Status
    target: Status
    actors: frozenset[Actor]
    sets: frozenset[Field] = frozenset()
    clears: frozenset[Field] = frozenset()


def _rule(
    source: Status,
    target: Status,
    *actors: Actor,
    sets: tuple[Field, ...] = (),
    clears: tuple[Field, ...] = (),
) -> Rule:
    return Rule(source, target, frozenset(actors), frozenset(sets), frozenset(clears))


# Short names for the table.
APPLICANT, ORGANIZER, SYSTEM = A.APPLICANT, A.ORGANIZER, A.SYSTEM
POSITION, OFFER_BY, CONFIRM_BY = F.WAITLIST_POSITION, F.OFFER_DEADLINE, F.CONFIRM_DEADLINE

#: Every allowed transition. ``system`` admits and waitlists in ``first_come`` rounds, promotes
#: from the waitlist, lapses offers past their deadline, expires unconfirmed applications and
#: withdraws applications on erasure.
TABLE: tuple[Rule, ...] = (
    _rule(S.PENDING_EMAIL, S.SUBMITTED, APPLICANT, sets=(F.CONFIRMED_AT,), clears=(CONFIRM_BY,)),
    _rule(S.PENDING_EMAIL, S.EXPIRED, SYSTEM, clears=(CONFIRM_BY,)),
    _rule(S.PENDING_EMAIL, S.WITHDRAWN, SYSTEM, clears=(CONFIRM_BY,)),
    _rule(S.SUBMITTED, S.OFFERED, ORGANIZER, SYSTEM, sets=(OFFER_BY,)),
    _rule(S.SUBMITTED, S.WAITLISTED, ORGANIZER, SYSTEM, sets=(POSITION,)),
    _rule(S.SUBMITTED, S.REJECTED, ORGANIZER),
    _rule(S.SUBMITTED, S.WITHDRAWN, APPLICANT, SYSTEM),
    _rule(S.WAITLISTED, S.OFFERED, ORGANIZER, SYSTEM, sets=(OFFER_BY,), clears=(POSITION,)),
    _rule(S.WAITLISTED, S.REJECTED, ORGANIZER, clears=(POSITION,)),
    _rule(S.WAITLISTED, S.WITHDRAWN, APPLICANT, SYSTEM, clears=(POSITION,)),
    _rule(S.OFFERED, S.ACCEPTED, APPLICANT, clears=(OFFER_BY,)),
    _rule(S.OFFERED, S.DECLINED, APPLICANT, clears=(OFFER_BY,)),
    _rule(S.OFFERED, S.LAPSED, SYSTEM, clears=(OFFER_BY,)),
    _rule(S.OFFERED, S.WITHDRAWN, APPLICANT, SYSTEM, clears=(OFFER_BY,)),
    _rule(S.OFFERED, S.REVOKED, ORGANIZER, clears=(OFFER_BY,)),
    _rule(S.ACCEPTED, S.WITHDRAWN, APPLICANT, SYSTEM),
    _rule(S.ACCEPTED, S.REVOKED, ORGANIZER),
)

RULES: dict[tuple[Status, Status], Rule] = {(r.source, r.target): r for r in TABLE}

#: Live: a status that can still change. An application in one of these holds the address for
#: its round (one live application per address and round, an index in the database).
LIVE: frozenset[Status] = frozenset(r.source for r in TABLE)
#: Final: no way out.
FINAL: frozenset[Status] = frozenset(Status) - LIVE
#: On the waitlist: the statuses entered with a waitlist position.
ON_WAITLIST: frozenset[Status] = frozenset(r.target for r in TABLE if F.WAITLIST_POSITION in r.sets)


def sources(target: Status, actor: Actor) -> frozenset[Status]:
    """The statuses from which ``actor`` may move an application to ``target``."""
    return frozenset(r.source for r in TABLE if r.target == target and actor in r.actors)


#: These hold a seat (seats held = offered + accepted): counted against the seats and limits.
#: A seat is what an organizer can take back (revoke).
HOLDING: frozenset[Status] = sources(S.REVOKED, A.ORGANIZER)
#: Waits for the applicant's answer to an offer (accept or decline).
AWAITING_ANSWER: frozenset[Status] = sources(S.ACCEPTED, A.APPLICANT)
#: Holds a seat and has said yes: a participant of the round.
PARTICIPATING: frozenset[Status] = HOLDING - AWAITING_ANSWER
#: Waits for the applicant to confirm the e-mail address.
UNCONFIRMED: frozenset[Status] = sources(S.SUBMITTED, A.APPLICANT)
#: Organizers still decide on these (admit, waitlist, reject; also review, stage, edit).
DECIDABLE: frozenset[Status] = sources(S.REJECTED, A.ORGANIZER)

#: The statuses in a fixed order (the lifecycle's), e.g. for SQL and listings.
ORDER: tuple[Status, ...] = tuple(Status)


def ordered(statuses: frozenset[Status] | tuple[Status, ...]) -> tuple[Status, ...]:
    """The statuses in the lifecycle's order."""
    return tuple(s for s in ORDER if s in statuses)


def values(statuses: frozenset[Status] | tuple[Status, ...]) -> list[str]:
    """The statuses as strings in the lifecycle's order (for ``IN (…)`` in queries)."""
    return [s.value for s in ordered(statuses)]


#: The order in which organizers' lists show the statuses: first what they still decide on,
#: then the seats (offered, accepted), then the rest that can change, then the final ones.
LISTING: tuple[Status, ...] = (
    ordered(DECIDABLE) + ordered(HOLDING) + ordered(LIVE - DECIDABLE - HOLDING) + ordered(FINAL)
)


class Action(enum.StrEnum):
    """What a person can do to an application, as named on forms and buttons."""

    ADMIT = "admit"
    WAITLIST = "waitlist"
    REJECT = "reject"
    REVOKE = "revoke"
    MOVE = "move"  # a new place on the waitlist (no change of status)
    ACCEPT = "accept"
    DECLINE = "decline"
    WITHDRAW = "withdraw"


#: The status each action leads to (``move`` keeps the application on the waitlist).
ACTION_TARGETS: dict[Action, Status] = {
    Action.ADMIT: S.OFFERED,
    Action.WAITLIST: S.WAITLISTED,
    Action.REJECT: S.REJECTED,
    Action.REVOKE: S.REVOKED,
    Action.ACCEPT: S.ACCEPTED,
    Action.DECLINE: S.DECLINED,
    Action.WITHDRAW: S.WITHDRAWN,
}


class TransitionError(Exception):
    """The lifecycle does not allow this change from the application's current status."""

    def __init__(self, application: Application, to: Status, actor: Actor | None = None):
        by = f" by {actor}" if actor is not None else ""
        super().__init__(
            f"application {application.id}: {application.status} -> {to}{by} not allowed"
        )
        self.application = application
        self.from_status = Status(application.status)
        self.to_status = to
        self.actor = actor


def rule(source: Status | str, target: Status | str) -> Rule | None:
    return RULES.get((Status(source), Status(target)))


def can(application: Application, to: Status, actor: Actor) -> bool:
    """May ``actor`` move ``application`` to ``to`` from its current status?"""
    found = rule(application.status, to)
    return found is not None and actor in found.actors


def allowed_actions(application: Application, actor: Actor) -> frozenset[Action]:
    """The actions ``actor`` may take on ``application`` now (the buttons a page shows)."""
    allowed = {a for a, to in ACTION_TARGETS.items() if can(application, to, actor)}
    if actor == A.ORGANIZER and application.status in ON_WAITLIST:
        allowed.add(Action.MOVE)
    return frozenset(allowed)


#: The named sets as predicates over an application (or a status): for services, and for
#: templates as Jinja tests (``{% if a is holding_seat %}``, registered by :func:`init_app`).
holds_seat = status_test(HOLDING)
awaits_answer = status_test(AWAITING_ANSWER)
participates = status_test(PARTICIPATING)
unconfirmed = status_test(UNCONFIRMED)
on_waitlist = status_test(ON_WAITLIST)
decidable = status_test(DECIDABLE)
live = status_test(LIVE)
final = status_test(FINAL)

#: The Jinja tests, by name.
TESTS: dict[str, Callable[[object], bool]] = {
    "holding_seat": holds_seat,
    "awaiting_answer": awaits_answer,
    "participating": participates,
    "unconfirmed": unconfirmed,
    "on_waitlist": on_waitlist,
    "decidable": decidable,
    "live": live,
    "final": final,
}


def record(
    application: Application,
    to: Status,
    actor: Actor,
    reason: str = "",
    actor_label: str = "",
    from_status: Status | None = None,
) -> ApplicationEvent:
    from .models import ApplicationEvent  # the models import this module

    event = ApplicationEvent(
        application=application,
        at=utcnow(),
        actor=actor.value,
        actor_label=actor_label,
        from_status=from_status.value if from_status else None,
        to_status=to.value,
        reason=reason,
    )
    db.session.add(event)
    return event


def transition(
    application: Application,
    to: Status,
    actor: Actor,
    reason: str = "",
    actor_label: str = "",
    *,
    now: datetime | None = None,
    offer_deadline: datetime | None = None,
    waitlist_position: int | None = None,
) -> ApplicationEvent:
    """Move an application to ``to`` and record it; raises :class:`TransitionError` when the
    table does not allow it for ``actor``. Clears the fields the rule clears and sets the ones
    it sets: ``offer_deadline`` and ``waitlist_position`` must be given exactly when the rule
    sets them (a ``ValueError`` otherwise), ``confirmed_at`` becomes ``now``."""
    found = rule(application.status, to)
    if found is None or actor not in found.actors:
        raise TransitionError(application, to, actor)
    given = {F.OFFER_DEADLINE: offer_deadline, F.WAITLIST_POSITION: waitlist_position}
    for name, value in given.items():
        if (value is not None) != (name in found.sets):
            raise ValueError(f"{found.source} -> {found.target} sets {sorted(found.sets)}: {name}")
    now = now or utcnow()
    given[F.CONFIRMED_AT] = now
    source = Status(application.status)
    application.status = to
    application.updated_at = utcnow()
    for name in found.clears:
        setattr(application, name.value, None)
    for name in found.sets:
        setattr(application, name.value, given[name])
    return record(application, to, actor, reason, actor_label, from_status=source)


def start(application: Application, reason: str = "") -> ApplicationEvent:
    """The first history row of a new application (status ``pending_email``)."""
    application.status = S.PENDING_EMAIL
    return record(application, S.PENDING_EMAIL, Actor.APPLICANT, reason)
