"""What applicants do with their application (accept, decline, withdraw) and the seat a
``first_come`` round gives at confirmation; also the withdrawal when a person's data is
erased. Each takes the round's lock (``admit_on_confirm``: the caller has it), asks the
lifecycle, changes state, records history and queues mail; none commits."""

from __future__ import annotations

from datetime import datetime

from forum.db import utcnow
from forum.models import AdmissionMode, Round

from .. import eligibility, lifecycle, notifications
from ..lifecycle import Action
from ..models import Actor, Application, Status
from . import moves
from .decisions import admit
from .results import DecisionOutcome, Result, result
from .seats import held_counts, lock_for
from .tasks import fill_free_seats, lapse

DO = DecisionOutcome

#: The reason in the history when an application leaves the lifecycle for an erasure.
ERASURE_REASON = "Löschung auf Wunsch"


def admit_on_confirm(application: Application, rnd: Round) -> Result | None:
    """``first_come`` rounds: a confirmed, eligible application is offered a seat at once while
    seats are free, else waitlisted. The caller holds the round's lock. None: left for review
    (a review round, or the rules changed since the application was made)."""
    if rnd.admission != AdmissionMode.FIRST_COME or application.status != Status.SUBMITTED:
        return None
    if eligibility.check(rnd, application.state, application.role, application.body_type):
        return None
    return admit(application, rnd, held_counts(rnd.id), Actor.SYSTEM, "", "")


def accept_offer(application: Application, now: datetime | None = None) -> Result:
    now = now or utcnow()
    rnd = lock_for(application)
    if not lifecycle.can(application, Status.ACCEPTED, Actor.APPLICANT):
        return result(application, DO.REFUSED, Action.ACCEPT, status=Status(application.status))
    if application.offer_deadline is not None and application.offer_deadline < now:
        # Past the deadline: what the maintenance run would do, done now.
        lapse(application, rnd)
        promoted = fill_free_seats(rnd, now)
        return result(application, DO.LAPSED, Action.ACCEPT, promoted=promoted)
    lifecycle.transition(application, Status.ACCEPTED, Actor.APPLICANT, "Platz angenommen")
    notifications.notify_accepted(application)
    return result(application, DO.ACCEPTED, Action.ACCEPT)


def decline_offer(application: Application, now: datetime | None = None) -> Result:
    rnd = lock_for(application)
    if not lifecycle.can(application, Status.DECLINED, Actor.APPLICANT):
        return result(application, DO.REFUSED, Action.DECLINE, status=Status(application.status))
    moves.leave(application, rnd, Status.DECLINED, Actor.APPLICANT, "Platz abgelehnt")
    notifications.notify_declined(application)
    promoted = fill_free_seats(rnd, now)
    return result(application, DO.DECLINED, Action.DECLINE, promoted=promoted)


def withdraw(application: Application, now: datetime | None = None) -> Result:
    rnd = lock_for(application)
    if not lifecycle.can(application, Status.WITHDRAWN, Actor.APPLICANT):
        return result(application, DO.REFUSED, Action.WITHDRAW, status=Status(application.status))
    freed = moves.leave(
        application, rnd, Status.WITHDRAWN, Actor.APPLICANT, "Bewerbung zurückgezogen"
    )
    notifications.notify_withdrawn(application)
    promoted = fill_free_seats(rnd, now) if freed else []
    return result(application, DO.WITHDRAWN, Action.WITHDRAW, promoted=promoted)


def withdraw_for_erasure(application: Application, now: datetime | None = None) -> Result:
    """The person asked for their data to be erased: a live application (also an unconfirmed
    one) is withdrawn by the system, its seat or waitlist place is freed and goes to the
    waitlist as after any withdrawal. No mail to the person: their address is about to go."""
    rnd = lock_for(application)
    if not lifecycle.can(application, Status.WITHDRAWN, Actor.SYSTEM):
        return result(application, DO.UNCHANGED, Action.WITHDRAW)
    freed = moves.leave(application, rnd, Status.WITHDRAWN, Actor.SYSTEM, ERASURE_REASON)
    promoted = fill_free_seats(rnd, now) if freed else []
    return result(application, DO.WITHDRAWN, Action.WITHDRAW, promoted=promoted)
