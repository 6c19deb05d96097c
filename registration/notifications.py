"""One ``notify_<event>()`` per mail. Each queues an outbox row in the current transaction;
the templates are ``mail_templates/<template>.<locale>.{txt,html}``."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from forum.codes import ROLES, STATES, label
from forum.db import utcnow
from forum.extensions import db
from forum.mail import public_url
from forum.models import OutboxMessage
from forum.outbox import queue_mail
from forum.round_hooks import MeetingChange

from . import lifecycle
from .models import Application
from .tokens import Purpose, make_token


def confirm_url(application: Application) -> str:
    token = make_token(Purpose.CONFIRM, application.public_id)
    return public_url(f"/applications/confirm/{token}", application.locale)


def status_url(application: Application) -> str:
    return public_url(
        f"/status/{make_token(Purpose.STATUS, application.public_id)}", application.locale
    )


def offer_url(application: Application) -> str:
    return public_url(
        f"/offers/{make_token(Purpose.OFFER, application.public_id)}", application.locale
    )


def _meeting_context(m) -> dict:
    return {
        "key": m.key,
        "title": m.title,
        "starts": m.starts.isoformat(),
        "ends": m.ends.isoformat(),
        "venue": m.venue,
        "address": m.address,
        "cancelled": m.cancelled,
        "agenda": m.agenda or "",
    }


def _base_context(application: Application) -> dict:
    rnd = application.round
    return {
        "first_name": application.first_name,
        "last_name": application.last_name,
        "round_title": rnd.title,
        "forum_title": rnd.forum.title,
        "organisation": application.organisation,
        "role": label(ROLES, application.role),
        "state": label(STATES, application.state),
        "status_url": status_url(application),
        "contact_email": rnd.forum.contact_email,
        "meetings": [_meeting_context(m) for m in rnd.meetings if not m.cancelled],
    }


def _deadline(value: datetime | None) -> str:
    """A deadline for a mail; the mails that name one are queued after it was set."""
    assert value is not None
    return value.isoformat()


def reply_to(application: Application) -> str | None:
    """Answers to a mail about a round go to the forum's contact address (if it has one)."""
    return application.round.forum.contact_email or None


def notify_confirm_email(application: Application) -> None:
    queue_mail(
        application.email,
        "application_confirm",
        application.locale,
        {
            **_base_context(application),
            "confirm_url": confirm_url(application),
            "confirm_deadline": _deadline(application.confirm_deadline),
        },
        reply_to=reply_to(application),
    )


def notify_already_applied(application: Application, locale: str) -> None:
    """Someone applied again with an address that has a live application for the round: the
    owner of the address is told, and nobody else learns anything."""
    recent = db.session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.recipient == application.email,
            OutboxMessage.template == "application_duplicate",
            OutboxMessage.created_at > utcnow() - timedelta(hours=1),
        )
    )
    if recent is not None:
        return  # one note an hour is enough; repeated submits must not flood the inbox
    context = {**_base_context(application), "status": application.status}
    if lifecycle.unconfirmed(application):
        context["confirm_url"] = confirm_url(application)
    queue_mail(
        application.email,
        "application_duplicate",
        locale,
        context,
        reply_to=reply_to(application),
    )


def notify_submitted(application: Application) -> None:
    """The application as entered goes only to a confirmed address (the confirmation mail
    carries no free text, so the form cannot be used to mail arbitrary text to anyone)."""
    context = {
        **_base_context(application),
        "motivation": application.motivation,
        "challenge": application.challenge,
    }
    queue_mail(
        application.email,
        "application_submitted",
        application.locale,
        context,
        reply_to=reply_to(application),
    )


# --- review, offers and the waitlist ---------------------------------------------------------


def _queue(application: Application, template: str, **context) -> None:
    queue_mail(
        application.email,
        template,
        application.locale,
        {**_base_context(application), **context},
        reply_to=reply_to(application),
    )


def notify_waitlisted(application: Application, message: str = "") -> None:
    _queue(
        application,
        "application_waitlisted",
        position=application.waitlist_position,
        message=message,
    )


def notify_offered(application: Application, message: str = "") -> None:
    _queue(
        application,
        "application_offered",
        offer_url=offer_url(application),
        offer_deadline=_deadline(application.offer_deadline),
        message=message,
    )


def notify_accepted(application: Application) -> None:
    from .calendar import meetings_ics

    queue_mail(
        application.email,
        "application_accepted",
        application.locale,
        _base_context(application),
        attachments=[
            {
                "filename": f"{application.round.slug}.ics",
                "content_type": "text/calendar; charset=utf-8; method=PUBLISH",
                "data": meetings_ics(application.round),
            }
        ],
        reply_to=reply_to(application),
    )


def notify_rejected(application: Application, message: str = "") -> None:
    _queue(application, "application_rejected", message=message)


def notify_declined(application: Application) -> None:
    _queue(application, "application_declined")


def notify_lapsed(application: Application) -> None:
    _queue(application, "application_lapsed")


def notify_withdrawn(application: Application) -> None:
    _queue(application, "application_withdrawn")


def notify_revoked(application: Application, message: str = "") -> None:
    _queue(application, "application_revoked", message=message)


# --- invitations (issue 13) ----------------------------------------------------------------------


def _invitation_context(invitation, token: str) -> dict:
    rnd = invitation.round
    return {
        "first_name": invitation.first_name,
        "last_name": invitation.last_name,
        "round_title": rnd.title,
        "forum_title": rnd.forum.title,
        "invitation_url": public_url(f"/invitations/{token}"),
        "closes": rnd.closes.isoformat(),
        "invitation_only": rnd.invitation_only,
        "contact_email": rnd.forum.contact_email,
        "meetings": [
            {
                "title": m.title,
                "starts": m.starts.isoformat(),
                "ends": m.ends.isoformat(),
                "venue": m.venue,
                "address": m.address,
            }
            for m in rnd.meetings
        ],
    }


def notify_invitation(invitation, token: str) -> None:
    queue_mail(
        invitation.email,
        "invitation",
        invitation.locale,
        _invitation_context(invitation, token),
        reply_to=invitation.round.forum.contact_email or None,
    )


def notify_invitation_reminder(invitation, token: str) -> None:
    queue_mail(
        invitation.email,
        "invitation_reminder",
        invitation.locale,
        _invitation_context(invitation, token),
        reply_to=invitation.round.forum.contact_email or None,
    )


# --- running the round -------------------------------------------------------------------------


def _plain(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


def notify_meeting_changed(application: Application, change: MeetingChange) -> bool:
    """A meeting moved (old and new values of what changed) or was cancelled, with the calendar
    update: same UID, higher SEQUENCE; ``METHOD:CANCEL`` for a cancellation."""
    from forum.calendar import meeting_ics

    meeting = change.meeting
    method = "CANCEL" if meeting.cancelled else "PUBLISH"
    template = "meeting_cancelled" if meeting.cancelled else "meeting_changed"
    context = {
        **_base_context(application),
        "meeting": _meeting_context(meeting),
        "changes": [
            {
                "field": name,
                "old": _plain(change.old.get(name)),
                "new": _plain(getattr(meeting, name)),
            }
            for name in change.changed
        ],
    }
    message = queue_mail(
        application.email,
        template,
        application.locale,
        context,
        reply_to=reply_to(application),
        attachments=[
            {
                "filename": f"{application.round.slug}-{meeting.key}.ics",
                "content_type": f"text/calendar; charset=utf-8; method={method}",
                "data": meeting_ics(meeting),
            }
        ],
    )
    return message is not None


def notify_meeting_reminder(application: Application, meeting, days: int) -> None:
    """A few days before a meeting: when, where, and the status page."""
    _queue(
        application,
        "meeting_reminder",
        meeting=_meeting_context(meeting),
        days=days,
    )


def notify_round_message(application: Application, subject: str, body: str) -> bool:
    """A message from the organizers (subject and Markdown body as they wrote it)."""
    message = queue_mail(
        application.email,
        "round_message",
        application.locale,
        {**_base_context(application), "subject": subject, "body": body, "test": False},
        reply_to=reply_to(application),
    )
    return message is not None


def round_message_sample_context(rnd, subject: str, body: str, name: str) -> dict:
    """What an organizer's preview and test mail show in place of a recipient's data."""
    return {
        "first_name": name,
        "last_name": "",
        "round_title": rnd.title,
        "forum_title": rnd.forum.title,
        "status_url": public_url("/status/…"),
        "contact_email": rnd.forum.contact_email,
        "subject": subject,
        "body": body,
        "test": True,
    }


def notify_round_message_test(rnd, subject: str, body: str, email: str, name: str, locale: str):
    return queue_mail(
        email,
        "round_message",
        locale,
        round_message_sample_context(rnd, subject, body, name),
        reply_to=rnd.forum.contact_email or None,
    )
