"""Background jobs of the newsletter: the dispatch of an announcement and its batches.

``dispatch_announcement(id)`` creates one delivery per confirmed subscriber with
``INSERT … SELECT`` in chunks of subscriber ids (nothing is loaded into the worker, so its
memory does not grow with the list) and enqueues ``send_batch`` jobs over ranges of delivery
ids. A batch opens one SMTP connection, claims its deliveries in small groups with conditional
UPDATEs, reads each subscriber's status right before sending to them, and writes the results
back with the next claim. So a duplicated or retried batch sends nobody a second mail, and an
address that unsubscribes while the dispatch runs gets nothing more. Temporary failures are
retried by RQ with backoff; the maintenance run picks up anything whose job Redis lost.
"""

from __future__ import annotations

import logging
import smtplib
import time
from datetime import timedelta

from flask import current_app
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import bindparam, case, exists, func, insert, literal, or_, select, update

from forum.db import lock_row, read_only, utcnow
from forum.extensions import db, rq
from forum.mail import MailHeaderError, smtp_connection

from .bulk import MessageFactory
from .models import (
    OPEN_DELIVERY,
    Announcement,
    AnnouncementStatus,
    Delivery,
    DeliveryStatus,
    Subscriber,
    SubscriberStatus,
)
from .ratelimit import RateLimiter
from .render import render_template_for_batch

log = logging.getLogger(__name__)

CLAIM_SECONDS = 300  # one mail: far longer than the SMTP timeout
INSERT_CHUNK = 5000


class DeliveriesDeferred(Exception):
    """Raised at the end of a batch with temporary failures, so that RQ retries it."""


def _intervals() -> list[int]:
    return list(current_app.config.get("MAIL_RETRY_INTERVALS", [10, 30, 120]))


def max_attempts() -> int:
    return len(_intervals()) + 1


def batch_size() -> int:
    return max(1, int(current_app.config.get("NEWSLETTER_BATCH_SIZE", 1000)))


# --- enqueueing --------------------------------------------------------------------------------


def _pending(job_id: str, connection) -> bool:
    try:
        status = Job.fetch(job_id, connection=connection).get_status(refresh=False)
    except NoSuchJobError:
        return False
    return status in (
        JobStatus.QUEUED,
        JobStatus.STARTED,
        JobStatus.SCHEDULED,
        JobStatus.DEFERRED,
    )


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
                retry=Retry(max=len(_intervals()), interval=_intervals()),
            )
    except Exception as exc:  # redis.ConnectionError, TimeoutError, …
        log.warning("could not enqueue the dispatch of announcement %s: %s", announcement_id, exc)
        return False
    return True


def _batch_timeout(size: int) -> int:
    limiter_seconds = RateLimiter.from_config().expected_seconds(size)
    per_mail = 2 * int(current_app.config.get("MAIL_TIMEOUT", 15))
    return int(300 + limiter_seconds * 1.5 + min(size * per_mail, 3600))


def enqueue_batches(announcement_id: int) -> int:
    """Enqueue batch jobs over the open deliveries of an announcement, walking the ids in
    pages (memory stays bounded). A batch whose job is still waiting is not enqueued twice."""
    size = batch_size()
    queue = rq.get_queue("bulk")
    timeout = _batch_timeout(size)
    count, last = 0, 0
    while True:
        ids = db.session.scalars(
            select(Delivery.id)
            .where(
                Delivery.announcement_id == announcement_id,
                Delivery.status.in_(OPEN_DELIVERY),
                Delivery.id > last,
            )
            .order_by(Delivery.id)
            .limit(size)
        ).all()
        db.session.commit()
        if not ids:
            return count
        first, last = ids[0], ids[-1]
        job_id = f"newsletter-batch-{announcement_id}-{first}-{last}"
        if not _pending(job_id, queue.connection):
            queue.enqueue(
                send_batch.func,
                announcement_id,
                first,
                last,
                job_id=job_id,
                job_timeout=timeout,
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
                retry=Retry(max=len(_intervals()), interval=_intervals()),
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
            .where(Subscriber.status == SubscriberStatus.CONFIRMED.value, Subscriber.id > last)
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
                ).where(Subscriber.status == SubscriberStatus.CONFIRMED.value, *in_range, ~already),
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
    announcement.total = db.session.scalar(
        select(func.count(Delivery.id)).where(Delivery.announcement_id == announcement_id)
    )
    announcement.status = AnnouncementStatus.SENDING.value
    db.session.commit()
    batches = enqueue_batches(announcement_id)
    finish_if_done(announcement_id)
    return f"{announcement.total} deliveries in {batches} batches"


def finish_if_done(announcement_id: int) -> bool:
    now = utcnow()
    done = db.session.execute(
        update(Announcement)
        .where(
            Announcement.id == announcement_id,
            Announcement.status == AnnouncementStatus.SENDING.value,
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

#: Deliveries claimed together in one write transaction. Results are written back at the latest
#: with the next claim (or after a second), so a worker that crashes may leave at most this many
#: mails sent but not marked; every mail is checked against the subscriber's status right
#: before it is sent, in a read-only transaction that takes no write lock.
CLAIM_GROUP = 25
RECORD_SECONDS = 1.0

_deliveries = Delivery.__table__
_subscribers = Subscriber.__table__

_CLAIM = (
    update(_deliveries)
    .where(
        _deliveries.c.id == bindparam("delivery_id"),
        _deliveries.c.status.in_(OPEN_DELIVERY),
        or_(
            _deliveries.c.claimed_until.is_(None),
            _deliveries.c.claimed_until < bindparam("now"),
        ),
    )
    .values(claimed_until=bindparam("until"), attempts=_deliveries.c.attempts + 1)
)
_CHECK = (
    select(
        _subscribers.c.status,
        _subscribers.c.email,
        _subscribers.c.public_id,
        _subscribers.c.locale,
        _deliveries.c.attempts,
    )
    .select_from(_deliveries.join(_subscribers, _subscribers.c.id == _deliveries.c.subscriber_id))
    .where(_deliveries.c.id == bindparam("delivery_id"))
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


def _record(results: list[tuple[int, dict]]) -> None:
    """Write results back (in the current transaction; the caller commits)."""
    if not results:
        return
    conn = db.session.connection()
    sent = [
        {"delivery_id": did, "sent_at": values["sent_at"]}
        for did, values in results
        if values["status"] == DeliveryStatus.SENT
    ]
    if sent:
        conn.execute(_MARK_SENT, sent)
    for did, values in results:
        if values["status"] != DeliveryStatus.SENT:
            conn.execute(
                update(_deliveries)
                .where(_deliveries.c.id == did)
                .values(claimed_until=None, **values)
            )
    results.clear()


def _claim(group: list[int], limiter: RateLimiter) -> list[int]:
    """Claim deliveries with conditional UPDATEs; returns those this job now holds (not sent,
    failed or held by another copy of the batch)."""
    now = utcnow()
    until = now + timedelta(seconds=CLAIM_SECONDS + limiter.expected_seconds(len(group)))
    conn = db.session.connection()
    return [
        did
        for did in group
        if conn.execute(_CLAIM, {"delivery_id": did, "now": now, "until": until}).rowcount == 1
    ]


def _check(delivery_id: int):
    """The subscriber's status, address, public id, locale and the delivery's attempts, read
    right before sending (a deferred transaction on SQLite: no write lock); None if the
    delivery is gone (the address was erased)."""
    with read_only():
        row = db.session.connection().execute(_CHECK, {"delivery_id": delivery_id}).one_or_none()
        db.session.commit()
    return row


def _failure(exc: Exception, attempts: int) -> dict:
    """Values for a delivery that failed: deferred (retried) or failed for good."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = list(exc.recipients.values())
        code, text = answers[0] if answers else (550, b"recipient refused")
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, exc.smtp_error
    else:
        code, text = None, str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    answer = f"{code} {text}" if code else f"{type(exc).__name__}: {text}"
    permanent = isinstance(exc, MailHeaderError) or (code is not None and 500 <= code < 600)
    if permanent or attempts >= max_attempts():
        return {"status": DeliveryStatus.FAILED.value, "last_error": answer[:2000]}
    intervals = _intervals()
    wait = intervals[min(attempts - 1, len(intervals) - 1)]
    return {
        "status": DeliveryStatus.DEFERRED.value,
        "last_error": answer[:2000],
        "next_attempt_at": utcnow() + timedelta(seconds=wait),
    }


class _ConnectionLost(Exception):
    pass


@rq.job(queue="bulk")
def send_batch(announcement_id: int, first_id: int, last_id: int) -> dict[str, int]:
    """Send the open deliveries with ids in ``first_id..last_id`` over one SMTP connection."""
    announcement = db.session.get(Announcement, announcement_id)
    if announcement is None or announcement.status != AnnouncementStatus.SENDING:
        db.session.commit()
        return {"skipped": 1}
    subject, body = announcement.subject, announcement.body
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
    counts = {"sent": 0, "failed": 0, "deferred": 0, "skipped": 0}
    if not ids:
        finish_if_done(announcement_id)
        return counts

    limiter = RateLimiter.from_config()
    factories: dict[str, MessageFactory] = {}
    results: list[tuple[int, dict]] = []  # sent or failed, not yet written back
    held: list[int] = []  # claimed by this job, not yet tried
    try:
        with smtp_connection() as conn:
            for start in range(0, len(ids), CLAIM_GROUP):
                _record(results)
                claimed = _claim(ids[start : start + CLAIM_GROUP], limiter)
                db.session.commit()
                held = claimed  # only claims that were committed are released below
                recorded = time.monotonic()
                while held:
                    delivery_id = held.pop(0)
                    if results and time.monotonic() - recorded > RECORD_SECONDS:
                        _record(results)  # keep the progress page current
                        db.session.commit()
                        recorded = time.monotonic()
                    limiter.wait()
                    row = _check(delivery_id)
                    if row is None:  # the address was erased while the batch ran
                        continue
                    status, email, public_id, locale, attempts = row
                    if status != SubscriberStatus.CONFIRMED:
                        results.append((delivery_id, {"status": DeliveryStatus.SKIPPED.value}))
                        counts["skipped"] += 1
                        continue
                    locale = locale if locale in ("de", "en") else "de"
                    if locale not in factories:
                        factories[locale] = MessageFactory(
                            render_template_for_batch(subject, body, locale), locale
                        )
                    now = utcnow()
                    try:
                        envelope = factories[locale].build(email, public_id)
                        conn.host.sendmail(envelope.sender, [envelope.recipient], envelope.data)
                    except smtplib.SMTPServerDisconnected as exc:
                        results.append((delivery_id, _failure(exc, attempts)))
                        raise _ConnectionLost(str(exc)) from exc
                    except (smtplib.SMTPException, MailHeaderError) as exc:
                        # The server refused this message (4xx: later again; 5xx: failed).
                        results.append((delivery_id, _failure(exc, attempts)))
                        counts[results[-1][1]["status"]] += 1
                    except OSError as exc:  # timeout, connection reset
                        results.append((delivery_id, _failure(exc, attempts)))
                        raise _ConnectionLost(str(exc)) from exc
                    else:
                        results.append(
                            (delivery_id, {"status": DeliveryStatus.SENT.value, "sent_at": now})
                        )
                        counts["sent"] += 1
    except (_ConnectionLost, OSError) as exc:
        # Connecting failed, or the connection broke: what was not tried stays queued (its
        # claim is released), RQ retries the batch.
        db.session.rollback()
        _record(results)
        _release(held)
        _note_error(announcement_id, f"SMTP: {exc}")
        db.session.commit()
        log.warning("newsletter batch %s-%s stopped: %s", first_id, last_id, exc)
        raise DeliveriesDeferred(f"SMTP connection failed: {exc}") from exc
    except Exception:
        db.session.rollback()
        _record(results)  # a mail that went out must not go out again
        _release(held)
        db.session.commit()
        raise
    _record(results)
    db.session.commit()
    if counts["deferred"]:
        raise DeliveriesDeferred(f"{counts['deferred']} deliveries deferred, retried later")
    finish_if_done(announcement_id)
    return counts


def _release(held: list[int]) -> None:
    """Give up this job's claims on deliveries it did not try (they stay open). The claim
    counted an attempt; no mail was tried, so it is taken back: ``attempts`` counts real tries,
    and dropped connections do not use up a delivery's retries."""
    if held:
        db.session.connection().execute(
            update(_deliveries)
            .where(
                _deliveries.c.id.in_(held),
                _deliveries.c.status.in_(OPEN_DELIVERY),
                _deliveries.c.claimed_until.is_not(None),
            )
            .values(
                claimed_until=None,
                attempts=case((_deliveries.c.attempts > 0, _deliveries.c.attempts - 1), else_=0),
            )
        )


def _note_error(announcement_id: int, message: str) -> None:
    db.session.execute(
        update(Announcement)
        .where(Announcement.id == announcement_id)
        .values(last_error=f"{utcnow().isoformat(timespec='seconds')} {message}"[:2000])
    )


# --- the safety net ----------------------------------------------------------------------------


def resume_dispatches() -> int:
    """The maintenance task: when no newsletter job is waiting or running, enqueue what was
    left behind (Redis was down, a worker died): dispatches not yet run, and batches for
    deliveries still open and not claimed. Returns how many jobs were enqueued."""
    from rq.registry import ScheduledJobRegistry, StartedJobRegistry

    queue = rq.get_queue("bulk")
    busy = (
        queue.count
        + StartedJobRegistry(queue=queue).count
        + ScheduledJobRegistry(queue=queue).count
    )
    if busy:
        return 0
    enqueued = 0
    stale = utcnow() - timedelta(minutes=2)
    for announcement in db.session.scalars(
        select(Announcement).where(
            Announcement.status.in_(
                [AnnouncementStatus.QUEUED.value, AnnouncementStatus.SENDING.value]
            )
        )
    ).all():
        if announcement.status == AnnouncementStatus.QUEUED:
            if announcement.dispatched_at and announcement.dispatched_at < stale:
                enqueued += int(enqueue_dispatch(announcement.id))
            continue
        if not finish_if_done(announcement.id):
            enqueued += enqueue_batches(announcement.id)
    db.session.commit()
    return enqueued
