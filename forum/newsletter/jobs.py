"""Background jobs of the newsletter: the dispatch of an announcement and its batches.

``dispatch_announcement(id)`` creates one delivery per confirmed subscriber with
``INSERT … SELECT`` in chunks of subscriber ids (nothing is loaded into the worker, so its
memory does not grow with the list) and enqueues ``send_batch`` jobs over ranges of delivery
ids. A batch sends through :mod:`forum.delivery` (the one delivery layer, shared with the
outbox): one SMTP connection, one delivery claimed at a time with a conditional UPDATE, the
subscriber's status read right before the mail, the outcome written with the next claim. So a
duplicated or retried batch sends nobody a second mail, an address that unsubscribes while the
dispatch runs gets nothing more, and a killed worker doubles at most one mail. Temporary
failures set ``next_attempt_at``; the maintenance run enqueues batches for what is due and for
dispatches that stalled (:func:`resume_dispatches`). No job depends on RQ's scheduler.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any, cast

from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import Row, Table, bindparam, exists, func, insert, literal, or_, select, update

from forum import delivery
from forum.db import execute_dml, lock_row, utcnow
from forum.extensions import db, rq
from forum.mail import envelope_sender
from forum.models import MailEventKind
from forum.suppression import active_suppression, record_event

from .announcements import contact_of
from .bulk import MessageFactory
from .models import (
    ANNOUNCEMENT_TRANSITIONS,
    DISPATCHING,
    OPEN_DELIVERY,
    RECEIVING,
    Announcement,
    AnnouncementStatus,
    Delivery,
    DeliveryStatus,
    Subscriber,
    receives_announcements,
    sources_of,
    values_of,
)
from .ratelimit import RateLimiter
from .render import render_template_for_batch

log = logging.getLogger(__name__)

INSERT_CHUNK = 5000


def batch_size() -> int:
    return max(1, int(current_app.config["NEWSLETTER_BATCH_SIZE"]))


# --- enqueueing --------------------------------------------------------------------------------


def _pending(job_id: str, connection) -> bool:
    try:
        status = Job.fetch(job_id, connection=connection).get_status(refresh=False)
    except NoSuchJobError:
        return False
    return status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED)


def enqueue_dispatch(announcement_id: int) -> bool:
    """Enqueue the dispatch job (after the commit). False if Redis is unreachable: the
    maintenance run enqueues it later."""
    try:
        queue = rq.get_queue("bulk")
        job_id = f"newsletter-dispatch-{announcement_id}"
        if not _pending(job_id, queue.connection):
            queue.enqueue(
                dispatch_announcement.func,
                announcement_id,
                job_id=job_id,
                job_timeout=3600,
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
            )
    except Exception as exc:  # redis.ConnectionError, TimeoutError, …
        log.warning("could not enqueue the dispatch of announcement %s: %s", announcement_id, exc)
        return False
    return True


def _batch_timeout(size: int) -> int:
    limiter_seconds = RateLimiter.from_config().expected_seconds(size)
    per_mail = 2 * int(current_app.config["MAIL_TIMEOUT"])
    return int(300 + limiter_seconds * 1.5 + min(size * per_mail, 3600))


def enqueue_batches(announcement_id: int, due_only: bool = False) -> int:
    """Enqueue batch jobs over the open deliveries of an announcement (with ``due_only``,
    those whose retry is due), walking the ids in pages (memory stays bounded)."""
    size = batch_size()
    queue = rq.get_queue("bulk")
    timeout = _batch_timeout(size)
    count, last = 0, 0
    due = []
    if due_only:
        due = [or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= utcnow())]
    while True:
        ids = db.session.scalars(
            select(Delivery.id)
            .where(
                Delivery.announcement_id == announcement_id,
                Delivery.status.in_(OPEN_DELIVERY),
                Delivery.id > last,
                *due,
            )
            .order_by(Delivery.id)
            .limit(size)
        ).all()
        db.session.commit()
        if not ids:
            return count
        first, last = ids[0], ids[-1]
        queue.enqueue(
            send_batch.func,
            announcement_id,
            first,
            last,
            job_id=f"newsletter-batch-{announcement_id}-{first}-{last}-{uuid.uuid4().hex[:8]}",
            job_timeout=timeout,
            result_ttl=3600,
            failure_ttl=7 * 24 * 3600,
        )
        count += 1


# --- the dispatch ------------------------------------------------------------------------------


@rq.job(queue="bulk")
def dispatch_announcement(announcement_id: int) -> str:
    """Create the deliveries of a queued announcement and enqueue its batches. Idempotent: runs
    again after a crash, continues where the crash left off (unique per subscriber)."""
    announcement = db.session.get(Announcement, announcement_id)
    status = announcement.status if announcement else None
    db.session.commit()
    if status == AnnouncementStatus.SENDING:  # a retry after the deliveries were made
        return f"{enqueue_batches(announcement_id)} batches enqueued again"
    if status != AnnouncementStatus.QUEUED:
        return "skipped"
    last = 0
    while True:
        upper = db.session.scalar(
            select(Subscriber.id)
            .where(Subscriber.status.in_(values_of(RECEIVING)), Subscriber.id > last)
            .order_by(Subscriber.id)
            .offset(INSERT_CHUNK - 1)
            .limit(1)
        )
        in_range = [Subscriber.id > last] + ([Subscriber.id <= upper] if upper else [])
        already = exists().where(
            Delivery.announcement_id == announcement_id,
            Delivery.subscriber_id == Subscriber.id,
        )
        db.session.execute(
            insert(Delivery).from_select(
                ["announcement_id", "subscriber_id", "status", "attempts"],
                select(
                    literal(announcement_id),
                    Subscriber.id,
                    literal(DeliveryStatus.QUEUED.value),
                    literal(0),
                ).where(Subscriber.status.in_(values_of(RECEIVING)), *in_range, ~already),
            )
        )
        db.session.commit()  # short transactions: other writers get their turn between chunks
        if upper is None:
            break
        last = upper

    announcement = lock_row(Announcement, announcement_id)
    if announcement.status != AnnouncementStatus.QUEUED:
        db.session.commit()
        return "skipped"
    announcement.total = db.session.scalars(
        select(func.count(Delivery.id)).where(Delivery.announcement_id == announcement_id)
    ).one()
    announcement.change_status(AnnouncementStatus.SENDING)
    db.session.commit()
    batches = enqueue_batches(announcement_id)
    finish_if_done(announcement_id)
    return f"{announcement.total} deliveries in {batches} batches"


#: A sending announcement finishes (the table in models.py); a conditional UPDATE.
FINISHABLE = sources_of(AnnouncementStatus.DONE, ANNOUNCEMENT_TRANSITIONS)


def finish_if_done(announcement_id: int) -> bool:
    now = utcnow()
    done = execute_dml(
        update(Announcement)
        .where(
            Announcement.id == announcement_id,
            Announcement.status.in_(FINISHABLE),
            ~exists().where(
                Delivery.announcement_id == announcement_id,
                Delivery.status.in_(OPEN_DELIVERY),
            ),
        )
        .values(status=AnnouncementStatus.DONE.value, finished_at=now)
    ).rowcount
    db.session.commit()
    return bool(done)


# --- one batch ---------------------------------------------------------------------------------

_deliveries = cast(Table, Delivery.__table__)
_subscribers = cast(Table, Subscriber.__table__)

_CHECK = (
    select(
        _subscribers.c.status,
        _subscribers.c.email,
        _subscribers.c.public_id,
        _subscribers.c.locale,
        _deliveries.c.attempts,
        _deliveries.c.id,
        _deliveries.c.announcement_id,
    )
    .select_from(_deliveries.join(_subscribers, _subscribers.c.id == _deliveries.c.subscriber_id))
    .where(_deliveries.c.id == bindparam("delivery_id"))
)


_CLAIM = (
    update(_deliveries)
    .where(
        _deliveries.c.id == bindparam("delivery_id"),
        _deliveries.c.status.in_(OPEN_DELIVERY),
        or_(_deliveries.c.claimed_until.is_(None), _deliveries.c.claimed_until < bindparam("now")),
        or_(
            _deliveries.c.next_attempt_at.is_(None),
            _deliveries.c.next_attempt_at <= bindparam("now"),
        ),
    )
    .values(claimed_until=bindparam("until"), attempts=_deliveries.c.attempts + 1)
)
_MARK_SENT = (
    update(_deliveries)
    .where(_deliveries.c.id == bindparam("delivery_id"))
    .values(
        status=DeliveryStatus.SENT.value,
        sent_at=bindparam("sent_at"),
        claimed_until=None,
        last_error=None,
    )
)


class BatchSource:
    """The deliveries of one announcement for :func:`forum.delivery.deliver`: each is claimed
    with a conditional UPDATE (a duplicated or retried batch finds it claimed or sent), the
    subscriber's status is read in the claim's transaction right before the mail (an address
    unsubscribed while the dispatch runs gets nothing more), and the message is built from one
    rendering per language (:mod:`.bulk`)."""

    gives_up = True

    def __init__(self, announcement: Announcement):
        self.announcement = announcement
        self.contact = contact_of(announcement)
        self.limiter = RateLimiter.from_config()
        self.factories: dict[tuple[str, str], MessageFactory] = {}
        self.rows: dict[int, Row[*tuple[Any, ...]]] = {}

    def pace(self) -> None:
        self.limiter.wait()

    def claim(self, item_id: int, until, now) -> bool:
        conn = db.session.connection()
        params = {"delivery_id": item_id, "now": now, "until": until}
        return conn.execute(_CLAIM, params).rowcount == 1

    def load(self, item_id: int):
        row = db.session.execute(_CHECK, {"delivery_id": item_id}).one_or_none()
        if row is None:
            return None
        self.rows[item_id] = row
        if not receives_announcements(row):
            return delivery.Skipped("not subscribed")
        if active_suppression(row.email) is not None:
            return delivery.Skipped("suppressed")
        return row

    def attempts(self, item) -> int:
        return item.attempts

    def build(self, item) -> delivery.Envelope:
        # English subscribers get the English text where one was written, else the German
        # one in its German frame (never German text inside an English frame).
        locale, subject, body = self.announcement.text_for(item.locale)
        # The unsubscribe link speaks the reader's language, whatever the text's.
        reader = item.locale if item.locale in ("de", "en") else "de"
        key = (locale, reader)
        if key not in self.factories:
            self.factories[key] = MessageFactory(
                render_template_for_batch(subject, body, locale, self.contact), reader
            )
        envelope = self.factories[key].build(item.email, item.public_id)
        return delivery.Envelope(envelope_sender("d", item.id), envelope.recipient, envelope.data)

    def record(self, item_id: int, outcome: delivery.Outcome) -> None:
        if isinstance(outcome, delivery.Sent):  # the common case: one prepared statement
            params = {"delivery_id": item_id, "sent_at": outcome.at}
            db.session.connection().execute(_MARK_SENT, params)
            self.rows.pop(item_id, None)
            return
        values: dict = {"claimed_until": None}
        if isinstance(outcome, delivery.Skipped):
            values["status"] = DeliveryStatus.SKIPPED.value
        else:
            values["last_error"] = outcome.answer
            if outcome.retry_at is None:
                values["status"] = DeliveryStatus.FAILED.value
            else:
                values.update(
                    status=DeliveryStatus.DEFERRED.value, next_attempt_at=outcome.retry_at
                )
        db.session.execute(update(_deliveries).where(_deliveries.c.id == item_id).values(**values))
        row = self.rows.pop(item_id, None)
        if isinstance(outcome, delivery.Failure) and outcome.refused and row is not None:
            record_event(
                MailEventKind.REFUSED,
                row.email,
                outcome.answer,
                "smtp",
                delivery_id=item_id,
                announcement_id=row.announcement_id,
            )


@rq.job(queue="bulk")
def send_batch(announcement_id: int, first_id: int, last_id: int) -> dict[str, int]:
    """Send the open, due deliveries with ids in ``first_id..last_id`` over one SMTP
    connection. Deferred ones wait for their ``next_attempt_at``; the maintenance run
    enqueues them again (:func:`resume_dispatches`)."""
    announcement = db.session.get(Announcement, announcement_id)
    if announcement is None or announcement.status != AnnouncementStatus.SENDING:
        db.session.commit()
        return {"skipped": 1}
    source = BatchSource(announcement)
    ids = db.session.scalars(
        select(Delivery.id)
        .where(
            Delivery.announcement_id == announcement_id,
            Delivery.id.between(first_id, last_id),
            Delivery.status.in_(OPEN_DELIVERY),
        )
        .order_by(Delivery.id)
    ).all()
    db.session.commit()
    counts = delivery.deliver(source, ids)
    if counts["connection_lost"]:
        _note_error(announcement_id, "SMTP: connection failed, the rest is sent later")
        db.session.commit()
        log.warning("newsletter batch %s-%s stopped: SMTP connection failed", first_id, last_id)
    finish_if_done(announcement_id)
    return dict(counts)


def _note_error(announcement_id: int, message: str) -> None:
    db.session.execute(
        update(Announcement)
        .where(Announcement.id == announcement_id)
        .values(last_error=f"{utcnow().isoformat(timespec='seconds')} {message}"[:2000])
    )


# --- the safety net ----------------------------------------------------------------------------


def _waiting_batches(queue, announcement_id: int) -> bool:
    prefix = f"newsletter-batch-{announcement_id}-"
    return any(job_id.startswith(prefix) for job_id in queue.get_job_ids())


def _stalled(announcement_id: int) -> bool:
    """Open deliveries are due and nobody works on them: none is claimed now. (A running batch
    always holds one claim: it writes a mail's outcome in the transaction that claims the next;
    a killed one's claim expires after ``MAIL_CLAIM_SECONDS``.)"""
    now = utcnow()
    mine = Delivery.announcement_id == announcement_id
    if db.session.scalar(select(exists().where(mine, Delivery.claimed_until > now))):
        return False
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    mine,
                    Delivery.status.in_(OPEN_DELIVERY),
                    or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
                )
            )
        )
    )


def resume_dispatches() -> int:
    """The maintenance task: enqueue what was left behind (Redis was down, a worker died,
    deliveries are due for their retry): dispatches not yet run, and batches for announcements
    that have due deliveries, no batch waiting in the queue and no delivery in progress.
    Returns how many jobs were enqueued."""
    queue = rq.get_queue("bulk")
    enqueued = 0
    stale = utcnow() - timedelta(minutes=2)
    for announcement in db.session.scalars(
        select(Announcement).where(Announcement.status.in_(values_of(DISPATCHING)))
    ).all():
        if announcement.status == AnnouncementStatus.QUEUED:
            if announcement.dispatched_at and announcement.dispatched_at < stale:
                enqueued += int(enqueue_dispatch(announcement.id))
            continue
        if finish_if_done(announcement.id):
            continue
        if not _waiting_batches(queue, announcement.id) and _stalled(announcement.id):
            enqueued += enqueue_batches(announcement.id, due_only=True)
    db.session.commit()
    return enqueued
