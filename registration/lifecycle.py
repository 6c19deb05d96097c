"""The application lifecycle of PRODUCT.md, in one place.

Every status change goes through :func:`transition`, which refuses transitions the lifecycle
does not allow and writes a history row (time, actor, from, to, reason). Nothing else assigns
``Application.status``.

    pending_email --confirm--> submitted --admit--> offered --accept--> accepted --withdraw-->
          |                       |  \\--waitlist--> waitlisted --promotion--> offered
          |                       \\--reject--> rejected          offered --decline--> declined
          \\--no confirmation in time--> expired                  offered --deadline--> lapsed

Every live status may also go to ``withdrawn``: by the applicant (not before the address is
confirmed), or by the system when the person asks for their data to be erased.
"""

from __future__ import annotations

from forum.db import utcnow
from forum.extensions import db

from .models import LIVE, Actor, Application, ApplicationEvent, Status

S = Status

ALLOWED: dict[Status, frozenset[Status]] = {
    # withdrawn: only on erasure (an applicant cannot withdraw before confirming the address).
    S.PENDING_EMAIL: frozenset({S.SUBMITTED, S.EXPIRED, S.WITHDRAWN}),
    S.SUBMITTED: frozenset({S.OFFERED, S.WAITLISTED, S.REJECTED, S.WITHDRAWN}),
    S.WAITLISTED: frozenset({S.OFFERED, S.REJECTED, S.WITHDRAWN}),
    S.OFFERED: frozenset({S.ACCEPTED, S.DECLINED, S.LAPSED, S.WITHDRAWN, S.REVOKED}),
    S.ACCEPTED: frozenset({S.WITHDRAWN, S.REVOKED}),
}


class TransitionError(Exception):
    """The lifecycle does not allow this change from the application's current status."""

    def __init__(self, application: Application, to: Status):
        super().__init__(f"application {application.id}: {application.status} -> {to} not allowed")
        self.application = application
        self.from_status = Status(application.status)
        self.to_status = to


def can_transition(application: Application, to: Status) -> bool:
    return to in ALLOWED.get(Status(application.status), frozenset())


def record(
    application: Application,
    to: Status,
    actor: Actor,
    reason: str = "",
    actor_label: str = "",
    from_status: Status | None = None,
) -> ApplicationEvent:
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
) -> ApplicationEvent:
    """Move an application to ``to`` and record it; raises :class:`TransitionError`."""
    if not can_transition(application, to):
        raise TransitionError(application, to)
    source = Status(application.status)
    application.status = to.value
    application.updated_at = utcnow()
    if to != S.WAITLISTED:
        application.waitlist_position = None
    if to != S.OFFERED:
        application.offer_deadline = None
    if to not in LIVE:
        application.confirm_deadline = None
    return record(application, to, actor, reason, actor_label, from_status=source)


def start(application: Application, reason: str = "") -> ApplicationEvent:
    """The first history row of a new application (status ``pending_email``)."""
    application.status = S.PENDING_EMAIL.value
    return record(application, S.PENDING_EMAIL, Actor.APPLICANT, reason)
