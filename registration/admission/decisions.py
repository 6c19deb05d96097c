"""Organizer decisions: admit, waitlist or reject (one, a selection, or staged ones released
together), revoke a seat, move an application on the waitlist. Each takes the round's lock,
reads the applications again, asks the lifecycle whether the change is allowed, changes state,
records history and queues mail; none commits."""

from __future__ import annotations

from collections.abc import Iterable

from forum.models import Organizer, Round

from .. import lifecycle, notifications, waitlist
from ..lifecycle import Action
from ..models import Actor, Application, Status
from . import moves
from .messages import record_text
from .results import DecisionOutcome, Result, result
from .seats import Counts, blocking_limit, held_counts, lock_for, lock_round, reload
from .tasks import fill_free_seats

DO = DecisionOutcome
#: The decisions of the decision form (``action``).
DECISIONS = (Action.ADMIT, Action.WAITLIST, Action.REJECT)


def _organizer_label(organizer: Organizer | None) -> str:
    return organizer.email if organizer is not None else ""


def _refused(application: Application, action: Action) -> Result:
    return result(application, DO.REFUSED, action, status=Status(application.status))


def admit(
    application: Application,
    rnd: Round,
    counts: Counts,
    actor: Actor,
    actor_label: str,
    message: str,
) -> Result:
    """Offer a seat if the limits allow. Otherwise a submitted application goes on the
    waitlist, a waitlisted one (promotion by hand) keeps its place; the result says why."""
    if not lifecycle.can(application, Status.OFFERED, actor):
        return _refused(application, Action.ADMIT)
    status = application.status
    limit = blocking_limit(rnd, application, counts)
    if limit is None:
        default = (
            "Zugelassen"
            if status not in lifecycle.ON_WAITLIST
            else "Von Hand von der Warteliste nachgerückt"
        )
        moves.offer(application, rnd, actor, message or default, actor_label, message)
        counts.add(application)
        return result(application, DO.OFFERED, Action.ADMIT)
    if lifecycle.can(application, Status.WAITLISTED, actor):
        moves.put_on_waitlist(
            application,
            rnd,
            actor,
            "Zulassen nicht möglich, auf die Warteliste gesetzt: "
            + record_text(limit, rnd, application),
            actor_label,
            message,
        )
        return result(application, DO.WAITLISTED, Action.ADMIT, limit=limit)
    return result(application, DO.REFUSED, Action.ADMIT, limit=limit)


def _waitlist(application: Application, rnd: Round, who: str, message: str) -> Result:
    if application.status in lifecycle.ON_WAITLIST:
        return result(application, DO.UNCHANGED, Action.WAITLIST)
    if not lifecycle.can(application, Status.WAITLISTED, Actor.ORGANIZER):
        return _refused(application, Action.WAITLIST)
    moves.put_on_waitlist(
        application, rnd, Actor.ORGANIZER, message or "Auf die Warteliste gesetzt", who, message
    )
    return result(application, DO.WAITLISTED, Action.WAITLIST)


def _reject(application: Application, rnd: Round, who: str, message: str) -> Result:
    if not lifecycle.can(application, Status.REJECTED, Actor.ORGANIZER):
        return _refused(application, Action.REJECT)
    moves.leave(application, rnd, Status.REJECTED, Actor.ORGANIZER, message or "Abgelehnt", who)
    notifications.notify_rejected(application, message)
    return result(application, DO.REJECTED, Action.REJECT)


def _decide_locked(
    application: Application,
    rnd: Round,
    action: Action,
    counts: Counts,
    organizer: Organizer | None,
    message: str,
) -> Result:
    who = _organizer_label(organizer)
    if action == Action.ADMIT:
        return admit(application, rnd, counts, Actor.ORGANIZER, who, message)
    if action == Action.WAITLIST:
        return _waitlist(application, rnd, who, message)
    return _reject(application, rnd, who, message)


def decide(
    application: Application,
    action: Action | str,
    organizer: Organizer | None = None,
    message: str = "",
) -> Result:
    """An organizer's decision on one application: ``admit`` (on a full round or limit: the
    waitlist instead, and the result says why; on a waitlisted application: promote it by
    hand if the limits allow), ``waitlist`` or ``reject``."""
    return decide_each(application.round, [(application, action, message)], organizer)[0]


def decide_many(
    rnd: Round,
    applications: Iterable[Application],
    action: Action | str,
    organizer: Organizer | None = None,
    message: str = "",
) -> list[Result]:
    """The same decision on a selection of one round's applications, in the given order, under
    one lock."""
    return decide_each(rnd, [(a, action, message) for a in applications], organizer)


def decide_each(
    rnd: Round,
    decisions: list[tuple[Application, Action | str, str]],
    organizer: Organizer | None = None,
) -> list[Result]:
    """Decisions (each with its own message) on one round's applications, applied in the given
    order under one lock, exactly as if an organizer had made them one by one: seats and
    limits are counted after each. ``ValueError`` for an action that is no decision or an
    application of another round."""
    actions = [Action(action) for _application, action, _message in decisions]
    if any(action not in DECISIONS for action in actions):
        raise ValueError("not a decision")
    rnd = lock_round(rnd.id)
    reload([a for a, _action, _message in decisions])
    counts = held_counts(rnd.id)
    results = []
    for (application, _action, message), action in zip(decisions, actions, strict=True):
        if application.round_id != rnd.id:
            raise ValueError("application of another round")
        results.append(_decide_locked(application, rnd, action, counts, organizer, message))
    return results


def revoke(application: Application, organizer: Organizer | None, reason: str) -> Result:
    """An organizer takes back an offered or accepted seat; the seat goes to the waitlist."""
    rnd = lock_for(application)
    if not lifecycle.can(application, Status.REVOKED, Actor.ORGANIZER):
        return _refused(application, Action.REVOKE)
    moves.leave(
        application,
        rnd,
        Status.REVOKED,
        Actor.ORGANIZER,
        reason or "Platz zurückgenommen",
        _organizer_label(organizer),
    )
    notifications.notify_revoked(application, reason)
    promoted = fill_free_seats(rnd)
    return result(application, DO.REVOKED, Action.REVOKE, promoted=promoted)


def move_on_waitlist(
    application: Application, position: int, organizer: Organizer | None, reason: str
) -> Result:
    lock_for(application)
    if Action.MOVE not in lifecycle.allowed_actions(application, Actor.ORGANIZER):
        return _refused(application, Action.MOVE)
    old, new = waitlist.move(application, position)
    if old == new:
        return Result(application, DO.UNCHANGED, Action.MOVE, position=new)
    lifecycle.record(
        application,
        Status.WAITLISTED,
        Actor.ORGANIZER,
        f"Auf der Warteliste von Platz {old} auf Platz {new} verschoben: {reason}",
        _organizer_label(organizer),
        from_status=Status.WAITLISTED,
    )
    return Result(application, DO.MOVED, Action.MOVE, position=new)
