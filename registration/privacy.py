"""What registration stores about a person, for :mod:`forum.privacy`: the export of their
applications with the history, the erasure on request, and the retention clean-up of finished
rounds.

Erasure and retention anonymise rather than delete: the application row stays with its status,
state, role, body type, department and times, so that seat counts, the waitlist and the
statistics of a round do not change; names, address, phone, organisation and the free texts
go. A live application first leaves the lifecycle (:func:`admission.withdraw_for_erasure`), so
that its seat goes to the waitlist as after any withdrawal."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from forum.db import utcnow
from forum.extensions import db
from forum.models import Meeting, Round
from forum.privacy import finished_before

from . import admission, lifecycle
from .models import Actor, Application, Attendance, Status
from .participants.edits import EDIT_NOTE
from .selection.privacy import scrub as scrub_selection

ERASED_NAME = "gelöscht"
ERASED_NOTE = "Personenbezogene Daten gelöscht"
RETENTION_NOTE = "Aufbewahrungsfrist abgelaufen"


def placeholder_address(application: Application) -> str:
    """Unique per application (the live-address index stays satisfied), never deliverable."""
    return f"deleted-{application.id}@invalid"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _applications(key: str) -> list[Application]:
    return list(
        db.session.scalars(
            select(Application)
            .where(Application.email_normalized == key)
            .options(selectinload(Application.events), selectinload(Application.round))
            .order_by(Application.round_id, Application.id)
        )
    )


def applied_in_forums(key: str, forum_ids: set[int]) -> bool:
    """Whether the address applied to a round of one of these forums (for
    :func:`forum.privacy.address_in_forums`)."""
    return (
        db.session.scalar(
            select(Application.id)
            .join(Round, Round.id == Application.round_id)
            .where(Application.email_normalized == key, Round.forum_id.in_(forum_ids))
            .limit(1)
        )
        is not None
    )


# --- export ------------------------------------------------------------------------------------


def export_applications(key: str) -> list[dict[str, Any]]:
    """Every application of the address, in every round, with its history."""
    return [
        {
            "round": a.round.slug,
            "round_title": a.round.title,
            "forum": a.round.forum.title,
            "status": a.status,
            "first_name": a.first_name,
            "last_name": a.last_name,
            "email": a.email,
            "phone": a.phone,
            "organisation": a.organisation,
            "body_type": a.body_type,
            "state": a.state,
            "role": a.role,
            "department": a.department,
            "motivation": a.motivation,
            "challenge": a.challenge,
            "commitment": a.commitment,
            "privacy_consent_at": _iso(a.privacy_consent_at),
            "privacy_version": a.privacy_version,
            "newsletter_requested": a.newsletter_requested,
            "share_contact": a.share_contact,
            "share_contact_at": _iso(a.share_contact_at),
            "share_contact_version": a.share_contact_version,
            "locale": a.locale,
            "created_at": _iso(a.created_at),
            "confirmed_at": _iso(a.confirmed_at),
            "waitlist_position": a.waitlist_position,
            "offer_deadline": _iso(a.offer_deadline),
            "history": [
                {
                    "at": _iso(e.at),
                    "actor": e.actor,
                    "from_status": e.from_status,
                    "to_status": e.to_status,
                    "reason": e.reason,
                }
                for e in a.events
            ],
            "attendance": _attendance(a),
        }
        for a in _applications(key)
    ]


def _attendance(application: Application) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Meeting.title, Meeting.starts, Attendance.status)
        .join(Attendance, Attendance.meeting_id == Meeting.id)
        .where(Attendance.application_id == application.id)
        .order_by(Meeting.starts)
    )
    return [{"meeting": t, "starts": _iso(s), "status": st} for t, s, st in rows]


# --- anonymisation -----------------------------------------------------------------------------


def _scrub(text: str, values: list[str]) -> str:
    for value in values:
        text = text.replace(value, "…")
    return text


def anonymise(application: Application, note: str, now: datetime | None = None) -> None:
    """Replace the personal data of one application and record it in the history. The
    reasons in the history lose what could name the person: an organizer's reasons and
    messages entirely, the texts of the service the organisation's name. Does not commit."""
    now = now or utcnow()
    values = sorted(
        {
            v
            for v in (
                application.organisation,
                application.email,
                application.first_name,
                application.last_name,
            )
            if v and len(v) > 2
        },
        key=len,
        reverse=True,
    )
    for event in application.events:
        if event.actor == Actor.ORGANIZER:
            event.reason = ""
        elif event.reason.startswith(EDIT_NOTE):
            event.reason = EDIT_NOTE  # old values the applicant replaced name the person too
        elif event.reason:
            event.reason = _scrub(event.reason, values)
    address = placeholder_address(application)
    application.first_name = ERASED_NAME
    application.last_name = ERASED_NAME
    application.email = address
    application.email_normalized = address
    application.phone = ""
    application.organisation = ""
    application.organisation_normalized = ""
    application.motivation = ""
    application.challenge = ""
    application.anonymised_at = now
    scrub_selection(application)
    application.share_contact = False  # nobody is shown to the others any more
    status = Status(application.status)
    lifecycle.record(application, status, Actor.SYSTEM, note, from_status=status)


def erase_applications(key: str, reason: str) -> int:
    """Erasure on request: live applications are withdrawn (their seats go to the waitlist),
    then every application of the address is anonymised. Rounds are locked in the order of
    their ids. Returns how many applications were anonymised. Does not commit."""
    now = utcnow()
    note = f"{ERASED_NOTE}: {reason}" if reason else ERASED_NOTE
    applications = _applications(key)
    for application in applications:
        if lifecycle.can(application, Status.WITHDRAWN, Actor.SYSTEM):
            admission.withdraw_for_erasure(application, now)
        anonymise(application, note, now)
    return len(applications)


# --- retention ---------------------------------------------------------------------------------


def anonymise_finished_rounds(now: datetime | None = None, chunk: int = 500) -> int:
    """Maintenance: anonymise the applications of rounds that finished more than
    ``RETENTION_DAYS`` ago. Applications anonymised before are skipped, so a second run does
    nothing. One transaction per chunk, under the round's lock."""
    now = now or utcnow()
    cutoff = now - timedelta(days=int(current_app.config["RETENTION_DAYS"]))
    pending = select(Application.round_id).where(Application.anonymised_at.is_(None))
    rounds = db.session.scalars(
        select(Round)
        .where(Round.id.in_(pending), Round.closes < cutoff)
        .options(selectinload(Round.meetings))
    ).all()
    round_ids = [rnd.id for rnd in rounds if finished_before(rnd) < cutoff]
    db.session.commit()
    count = 0
    for round_id in round_ids:
        while True:
            admission.lock_round(round_id)
            applications = list(
                db.session.scalars(
                    select(Application)
                    .where(Application.round_id == round_id, Application.anonymised_at.is_(None))
                    .options(selectinload(Application.events))
                    .order_by(Application.id)
                    .limit(chunk)
                )
            )
            for application in applications:
                anonymise(application, RETENTION_NOTE, now)
            db.session.commit()
            count += len(applications)
            if len(applications) < chunk:
                break
    return count
