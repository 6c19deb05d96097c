"""Announcements of rounds: compose (prefilled from the round), preview, test, dispatch,
progress and retry. Functions here change state; they never commit (the caller does) and
never enqueue (the caller enqueues after the commit)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template
from flask_babel import force_locale
from sqlalchemy import func, select, update

from forum.codes import who_may_apply
from forum.db import execute_dml, lock_row, utcnow
from forum.extensions import db
from forum.mail import RenderedMail, public_url, render_mail
from forum.models import Organizer, Round
from forum.outbox import queue_mail

from .models import (
    ANNOUNCEMENT_TRANSITIONS,
    PROBLEM_DELIVERY,
    RECEIVING,
    Announcement,
    AnnouncementStatus,
    Delivery,
    DeliveryStatus,
    Subscriber,
    dispatching,
    values_of,
)
from .render import announcement_context, list_headers, reply_to_header

SUBJECT_MAX = 200
BODY_MAX = 20_000


class AnnouncementError(ValueError):
    pass


class AlreadyAnnounced(AnnouncementError):
    """The round was announced before; dispatching again needs an explicit confirmation."""

    def __init__(self, previous: list[Announcement]):
        super().__init__("this round was announced before")
        self.previous = previous


def prefill(rnd: Round) -> tuple[str, str]:
    """Subject and text of an announcement, from the round: title, seats, deadline, meetings
    with dates and venues, who may apply, the link to the form. German, like the newsletter."""
    with force_locale("de"):
        subject = f"Neue Runde: {rnd.title} – {rnd.forum.title}"
        body = render_template(
            "newsletter/admin/prefill.txt",
            round=rnd,
            forum=rnd.forum,
            who=who_may_apply(rnd),
            apply_url=public_url(f"/rounds/{rnd.slug}/apply"),
            upcoming=rnd.is_upcoming(),
        )
    return subject[:SUBJECT_MAX], body.strip() + "\n"


def _round_label(rnd: Round) -> str:
    return f"{rnd.forum.title}: {rnd.title} ({rnd.slug})"[:300]


def create_announcement(
    rnd: Round,
    subject: str,
    body: str,
    organizer: Organizer | None,
    subject_en: str = "",
    body_en: str = "",
) -> Announcement:
    """A draft; ``subject_en``/``body_en`` the optional English version."""
    announcement = Announcement(
        round_id=rnd.id,
        round_label=_round_label(rnd),
        subject=_clean_subject(subject),
        body=body,
        subject_en=" ".join((subject_en or "").split())[:SUBJECT_MAX],
        body_en=body_en or "",
        status=AnnouncementStatus.DRAFT.value,
        created_by_id=organizer.id if organizer else None,
        created_by_label=organizer.email if organizer else "command line",
        created_at=utcnow(),
    )
    db.session.add(announcement)
    return announcement


def _clean_subject(subject: str) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        raise AnnouncementError("the subject is empty")
    return subject[:SUBJECT_MAX]


def update_draft(
    announcement: Announcement, subject: str, body: str, subject_en: str = "", body_en: str = ""
) -> None:
    announcement = lock_row(Announcement, announcement.id)
    if announcement.status != AnnouncementStatus.DRAFT:
        raise AnnouncementError("only a draft can be changed")
    announcement.subject = _clean_subject(subject)
    announcement.body = body
    announcement.subject_en = " ".join((subject_en or "").split())[:SUBJECT_MAX]
    announcement.body_en = body_en or ""


def previous_announcements(announcement: Announcement) -> list[Announcement]:
    """Other announcements of the same round that were dispatched."""
    if announcement.round_id is None:
        return []
    return list(
        db.session.scalars(
            select(Announcement)
            .where(
                Announcement.round_id == announcement.round_id,
                Announcement.id != announcement.id,
                Announcement.status != AnnouncementStatus.DRAFT.value,
            )
            .order_by(Announcement.dispatched_at)
        )
    )


def request_dispatch(announcement: Announcement, again: bool = False) -> Announcement:
    """Mark a draft for dispatch (the caller commits, then enqueues the dispatch job).
    Raises :class:`AlreadyAnnounced` if the round went out before and ``again`` is not set."""
    announcement = lock_row(Announcement, announcement.id)
    if announcement.status != AnnouncementStatus.DRAFT:
        raise AnnouncementError("this announcement has been dispatched already")
    if announcement.round_id is not None:
        lock_row(Round, announcement.round_id)  # two organizers announcing at once: one wins
    previous = previous_announcements(announcement)
    if previous and not again:
        raise AlreadyAnnounced(previous)
    announcement.change_status(AnnouncementStatus.QUEUED)
    announcement.dispatched_at = utcnow()
    return announcement


def confirmed_count() -> int:
    return db.session.scalars(
        select(func.count(Subscriber.id)).where(Subscriber.status.in_(values_of(RECEIVING)))
    ).one()


@dataclass
class Progress:
    status: str
    total: int
    sent: int
    failed: int
    deferred: int
    skipped: int
    queued: int
    last_error: str | None

    @property
    def done(self) -> bool:
        return not dispatching(self)

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.done else 0
        return int(100 * (self.sent + self.failed + self.skipped) / self.total)

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "total": self.total,
            "sent": self.sent,
            "failed": self.failed,
            "deferred": self.deferred,
            "skipped": self.skipped,
            "queued": self.queued,
            "percent": self.percent,
            "done": self.done,
            "last_error": self.last_error,
        }


def progress(announcement: Announcement) -> Progress:
    counts = dict(
        db.session.execute(
            select(Delivery.status, func.count(Delivery.id))
            .where(Delivery.announcement_id == announcement.id)
            .group_by(Delivery.status)
        ).all()
    )
    total = sum(counts.values())
    return Progress(
        status=announcement.status,
        total=total,
        sent=counts.get(DeliveryStatus.SENT.value, 0),
        failed=counts.get(DeliveryStatus.FAILED.value, 0),
        deferred=counts.get(DeliveryStatus.DEFERRED.value, 0),
        skipped=counts.get(DeliveryStatus.SKIPPED.value, 0),
        queued=counts.get(DeliveryStatus.QUEUED.value, 0),
        last_error=announcement.last_error,
    )


def problem_deliveries(announcement: Announcement, limit: int = 200):
    """Failed and deferred deliveries with the SMTP answer, for the progress page."""
    return db.session.execute(
        select(Delivery, Subscriber.email)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            Delivery.announcement_id == announcement.id,
            Delivery.status.in_(values_of(PROBLEM_DELIVERY)),
        )
        .order_by(Delivery.id)
        .limit(limit)
    ).all()


def retry_failed(announcement: Announcement) -> int:
    """Queue failed and deferred deliveries again (the caller enqueues the batches)."""
    announcement = lock_row(Announcement, announcement.id)
    if AnnouncementStatus.SENDING not in ANNOUNCEMENT_TRANSITIONS[announcement.status]:
        return 0
    count = execute_dml(
        update(Delivery)
        .where(
            Delivery.announcement_id == announcement.id,
            Delivery.status.in_(values_of(PROBLEM_DELIVERY)),
        )
        .values(
            status=DeliveryStatus.QUEUED.value, attempts=0, claimed_until=None, next_attempt_at=None
        )
    ).rowcount
    if count:
        announcement.change_status(AnnouncementStatus.SENDING)
        announcement.finished_at = None
        announcement.last_error = None
    return count


def render_preview(announcement: Announcement, locale: str = "de") -> RenderedMail:
    """The mail as a subscriber sees it, with a sample unsubscribe link."""
    sample = public_url("/newsletter/unsubscribe/BEISPIEL")
    locale, subject, body = announcement.text_for(locale)
    contact = contact_of(announcement)
    rendered = render_mail(
        "newsletter_announcement", locale, announcement_context(subject, body, sample, contact)
    )
    rendered.headers = {**reply_to_header(contact), **list_headers(sample)}
    return rendered


def contact_of(announcement: Announcement) -> str:
    """The contact address of the announced round's forum ("" if none)."""
    rnd = db.session.get(Round, announcement.round_id) if announcement.round_id else None
    return rnd.forum.contact_email if rnd is not None else ""


def send_test(announcement: Announcement, recipient: str, locale: str = "de") -> None:
    """Queue the announcement to one address (the organizer's) through the outbox. The
    unsubscribe link in a test mail leads to a page that says the link is invalid."""
    sample = public_url("/newsletter/unsubscribe/TEST")
    locale, subject, body = announcement.text_for(locale)
    contact = contact_of(announcement)
    queue_mail(
        recipient,
        "newsletter_announcement",
        locale,
        announcement_context("[Test] " + subject, body, sample, contact),
        headers=list_headers(sample),
        reply_to=contact or None,
    )
