"""The steps every admission function is made of; the caller holds the round's lock. Each
step is one transition of the lifecycle plus what belongs to it (the waitlist without gaps,
the mail)."""

from __future__ import annotations

from datetime import datetime, timedelta

from forum.db import utcnow
from forum.extensions import db
from forum.models import Round

from .. import lifecycle, notifications, waitlist
from ..models import Actor, Application, Status


def offer(
    application: Application,
    rnd: Round,
    actor: Actor,
    reason: str,
    actor_label: str = "",
    message: str = "",
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    old_position = application.waitlist_position
    lifecycle.transition(
        application,
        Status.OFFERED,
        actor,
        reason,
        actor_label,
        offer_deadline=now + timedelta(hours=rnd.offer_hours),
    )
    waitlist.close_gap(rnd.id, old_position)
    notifications.notify_offered(application, message)


def put_on_waitlist(
    application: Application,
    rnd: Round,
    actor: Actor,
    reason: str,
    actor_label: str = "",
    message: str = "",
) -> None:
    lifecycle.transition(
        application,
        Status.WAITLISTED,
        actor,
        reason,
        actor_label,
        waitlist_position=waitlist.next_position(rnd.id),
    )
    db.session.flush()
    notifications.notify_waitlisted(application, message)


def leave(
    application: Application,
    rnd: Round,
    to: Status,
    actor: Actor,
    reason: str,
    actor_label: str = "",
) -> bool:
    """Move to a final status; keeps the waitlist without gaps. True if a seat was freed."""
    was_holding = application.status in lifecycle.HOLDING
    old_position = application.waitlist_position
    lifecycle.transition(application, to, actor, reason, actor_label)
    waitlist.close_gap(rnd.id, old_position)
    return was_holding
