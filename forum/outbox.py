"""The mail outbox: write in the transaction, enqueue after the commit, deliver exactly once.

``queue_mail()`` adds an :class:`OutboxMessage` to the current session; nothing is sent if the
transaction rolls back. After a successful commit each new row is enqueued as the job
``outbox-<id>``. If Redis is down the row simply waits: the maintenance sweep enqueues every
unsent row again. Delivery claims the row with a conditional UPDATE (so two copies of a job
cannot both send it), sends, and marks it sent; temporary SMTP failures are retried with
backoff, permanent ones (a 5xx answer) mark the row failed.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

import jinja2
from flask import current_app
from rq import Retry
from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from . import redis_guard
from .db import utcnow
from .extensions import db, rq
from .mail import MailHeaderError, build_message, render_mail, send_message
from .models import OutboxMessage

log = logging.getLogger(__name__)

_PENDING_KEY = "outbox_pending_ids"
CLAIM_SECONDS = 300


def queue_mail(
    recipient: str,
    template: str,
    locale: str = "de",
    context: dict | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[dict[str, str]] | None = None,
) -> OutboxMessage | None:
    """Add a mail to the outbox of the current transaction (it is not committed here).

    Addresses under the reserved top-level domain ``.invalid`` (RFC 2606), which erasure and
    retention put in place of a person's address, are never mailed: returns None."""
    if recipient.rstrip(".").lower().endswith(".invalid") or recipient.lower().endswith("@invalid"):
        return None
    message = OutboxMessage(
        recipient=recipient,
        template=template,
        locale=locale,
        context=context or {},
        headers=headers or {},
        attachments=attachments or [],
    )
    db.session.add(message)
    return message


@event.listens_for(Session, "after_flush")
def _collect_new_messages(session: Session, _flush_context) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, OutboxMessage)]
    if ids:
        session.info.setdefault(_PENDING_KEY, []).extend(ids)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction) -> None:
    # Only the outer transaction: a rolled-back savepoint keeps what was flushed before it.
    # (An id flushed inside the savepoint may stay in the list; its job finds no row to claim
    # and does nothing.)
    if not previous_transaction.nested:
        session.info.pop(_PENDING_KEY, None)


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    ids = session.info.pop(_PENDING_KEY, None)
    if ids:
        enqueue_messages(ids)


def _retry() -> Retry:
    intervals = current_app.config.get("MAIL_RETRY_INTERVALS", [10, 30, 120])
    return Retry(max=len(intervals), interval=intervals)


def enqueue_messages(ids: list[int]) -> int:
    """Enqueue delivery jobs; returns how many were enqueued. Redis being down is not an error
    here: the rows stay unsent and the maintenance sweep picks them up."""
    done = 0
    if not redis_guard.available():
        log.warning("Redis failed a moment ago: %d outbox message(s) left to the sweep", len(ids))
        return 0
    try:
        queue = rq.get_queue("mail")
        with queue.connection.pipeline() as pipe:
            for message_id in ids:
                queue.enqueue(
                    deliver_message.func,
                    message_id,
                    job_id=f"outbox-{message_id}",
                    retry=_retry(),
                    result_ttl=600,
                    failure_ttl=7 * 24 * 3600,
                    pipeline=pipe,
                )
                done += 1
            pipe.execute()
    except Exception as exc:  # redis.ConnectionError, TimeoutError, …
        redis_guard.failed()
        log.warning("could not enqueue %d outbox message(s), the sweep will: %s", len(ids), exc)
        return 0
    redis_guard.succeeded()
    return done


def claim(message_id: int) -> bool:
    """Claim a row for delivery; False if it is sent, failed, or claimed by another job."""
    now = utcnow()
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .values(
            claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
            attempts=OutboxMessage.attempts + 1,
        )
    )
    db.session.commit()
    return result.rowcount == 1


# Errors that another attempt cannot fix: a refused address, a broken template or header.
PERMANENT = (
    MailHeaderError,
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    jinja2.TemplateError,
    UnicodeError,  # an address the SMTP connection cannot carry (no SMTPUTF8)
)


def _is_permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600:
        return True
    return isinstance(exc, PERMANENT)


@rq.job(queue="mail")
def deliver_message(message_id: int) -> str:
    """Deliver one outbox row. Idempotent: a sent row is never sent again."""
    if not claim(message_id):
        return "skipped"
    message = db.session.get(OutboxMessage, message_id)
    try:
        rendered = render_mail(message.template, message.locale, message.context)
        # Transactional mail: no auto-replies (RFC 3834).
        rendered.headers.update({"Auto-Submitted": "auto-generated", **message.headers})
        send_message(build_message(message.recipient, rendered, message.attachments))
    except Exception as exc:
        db.session.rollback()
        message = db.session.get(OutboxMessage, message_id)
        message.claimed_until = None
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if _is_permanent(exc):
            message.failed_at = utcnow()
            db.session.commit()
            log.error("outbox %s failed permanently: %s", message_id, exc)
            return "failed"
        intervals = current_app.config.get("MAIL_RETRY_INTERVALS", [10])
        step = min(message.attempts - 1, len(intervals) - 1)
        message.next_attempt_at = utcnow() + timedelta(seconds=intervals[max(step, 0)])
        db.session.commit()
        raise  # RQ retries with backoff; the maintenance sweep is the safety net
    message.sent_at = utcnow()
    message.claimed_until = None
    message.subject = rendered.subject[:300]
    message.body_text = rendered.text
    message.last_error = None
    db.session.commit()
    return "sent"


def sweep_unsent(limit: int = 10_000) -> int:
    """Enqueue every unsent row that no job currently holds, including those waiting for a
    retry, so that an operator can flush the outbox at once after an outage."""
    now = utcnow()
    ids = list(
        db.session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.failed_at.is_(None),
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
    db.session.commit()
    if not ids:
        return 0
    return enqueue_messages(ids)
