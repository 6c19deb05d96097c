"""The mail outbox: write in the transaction, enqueue after the commit, deliver once.

``queue_mail()`` adds an :class:`OutboxMessage` to the current session; nothing is sent if the
transaction rolls back. After a successful commit a flush job is enqueued on the ``mail``
queue (at most one waits at a time: a Redis key names it), which delivers every due row over
one SMTP connection through :mod:`forum.delivery` (claim one row, send, mark it in the
transaction that claims the next). If Redis is down the rows simply wait: the maintenance
sweep enqueues a flush whenever rows are due. Temporary SMTP failures set ``next_attempt_at``
(``MAIL_RETRY_INTERVALS``, the last interval repeating: transactional mail is never given up),
permanent ones (a 5xx answer) mark the row failed.

Intakes: a public form that must not tell whether an address is known (the application form,
the newsletter) writes one outbox row whose ``template`` names an *intake* registered with
:func:`register_intake` (:func:`insert_mails`, one Core INSERT), the same for every address.
The flush job hands each such row to its handler, which decides in its own transaction (the
row deleted in it) what to write and which real mail to queue: a confirmation for a new
address, a note for a known one, nothing for a subscribed one.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, cast

from flask import Flask, current_app, has_request_context
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import Table, delete, event, func, insert, or_, select, update
from sqlalchemy.orm import Session

from . import delivery, redis_guard
from .db import execute_dml, read_only, utcnow
from .extensions import db, rq
from .mail import build_message, envelope_sender, render_mail
from .models import MailEventKind, OutboxMessage
from .suppression import active_suppression, record_event

log = logging.getLogger(__name__)

_PENDING_KEY = "outbox_pending_ids"
#: The Redis key that names the flush job waiting to start (deleted when it starts).
FLUSH_KEY = "forum:outbox:flush-waiting"
#: A flush job stops after this many seconds and enqueues the next (bounded job time).
FLUSH_SECONDS = 240


def queue_mail(
    recipient: str,
    template: str,
    locale: str = "de",
    context: dict | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[dict[str, str]] | None = None,
    reply_to: str | None = None,
) -> OutboxMessage | None:
    """Add a mail to the outbox of the current transaction (it is not committed here).
    ``reply_to``: the address answers go to (mails about a round: the forum's contact).

    Addresses under the reserved top-level domain ``.invalid`` (RFC 2606), which erasure and
    retention put in place of a person's address, are never mailed: returns None."""
    if _never_mailed(recipient):
        return None
    headers = dict(headers or {})
    if reply_to:
        headers["Reply-To"] = reply_to
    message = OutboxMessage(
        recipient=recipient,
        template=template,
        locale=locale,
        context=context or {},
        headers=headers,
        attachments=attachments or [],
    )
    db.session.add(message)
    return message


def _never_mailed(recipient: str) -> bool:
    return recipient.rstrip(".").lower().endswith(".invalid") or recipient.lower().endswith(
        "@invalid"
    )


#: An intake's handler: ``(recipient, locale, context)``, runs in the flush job's transaction
#: (which commits after it) and queues whatever mail it decides on.
Intake = Callable[[str, str, dict[str, Any]], None]


def register_intake(app: Flask, template: str, handler: Intake) -> None:
    """Outbox rows with this ``template`` are not mailed but handed to ``handler`` by the
    flush job (see the module doc)."""
    app.extensions.setdefault("outbox_intakes", {})[template] = handler


def _intakes() -> dict[str, Intake]:
    return current_app.extensions.get("outbox_intakes", {})


def insert_mails(rows: list[dict[str, Any]]) -> None:
    """Write outbox rows at once with one Core INSERT (executemany), in the current
    transaction: each row a dict with ``recipient``, ``template``, ``locale`` and ``context``.
    Cheaper than :func:`queue_mail` (no ORM object, no flush), for the public forms' hot path.
    The commit asks for a flush job as for any outbox row."""
    rows = mail_rows(rows)
    if rows:
        db.session.execute(insert(_outbox), rows)
        note_queued(len(rows))


#: The columns :func:`mail_rows` sets.
MAIL_COLUMNS = (
    "recipient",
    "template",
    "locale",
    "context",
    "headers",
    "attachments",
    "created_at",
    "attempts",
)


def mail_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows :func:`insert_mails` writes, with every column of :data:`MAIL_COLUMNS`;
    addresses that are never mailed are left out. For a caller that writes them in a
    statement of its own (then :func:`note_queued`)."""
    now = utcnow()
    return [
        {"headers": {}, "attachments": [], "created_at": now, "attempts": 0, **row}
        for row in rows
        if not _never_mailed(row["recipient"])
    ]


def note_queued(count: int) -> None:
    """``count`` outbox rows were written in this transaction: the commit asks for a flush
    job (only the count matters, see :func:`enqueue_messages`)."""
    db.session.info.setdefault(_PENDING_KEY, []).extend([0] * count)


@event.listens_for(Session, "after_flush")
def _collect_new_messages(session: Session, _flush_context) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, OutboxMessage)]
    if ids:
        session.info.setdefault(_PENDING_KEY, []).extend(ids)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction) -> None:
    # Only the outer transaction: a rolled-back savepoint keeps what was flushed before it.
    # (An id flushed inside the savepoint may stay in the list; the flush finds no row.)
    if not previous_transaction.nested:
        session.info.pop(_PENDING_KEY, None)


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    ids = session.info.pop(_PENDING_KEY, None)
    if ids:
        enqueue_messages(ids)


def _pending(job_id: str, connection) -> bool:
    try:
        status = Job.fetch(job_id, connection=connection).get_status(refresh=False)
    except NoSuchJobError:
        return False
    return status in (JobStatus.QUEUED, JobStatus.DEFERRED)


def request_flush(check_waiting: bool = False) -> bool:
    """Make sure a flush job is waiting to start on the ``mail`` queue. A flush that has not
    started yet will see every row committed before now, so one is enough; a started one
    deleted the key first, so a new one is enqueued. ``check_waiting`` (the sweep) also
    replaces a key whose job Redis no longer holds. False if Redis is unreachable (in a
    request also while it failed a moment ago: see :mod:`forum.redis_guard`)."""
    if not redis_guard.available():
        log.warning("Redis failed a moment ago: the outbox flush is left to the sweep")
        return False
    try:
        queue = rq.get_queue("mail")
        redis = queue.connection
        job_id = f"outbox-flush-{uuid.uuid4().hex[:16]}"
        # One round trip: SET … NX GET (Redis 7) sets the key if it is free and answers the
        # job that was already waiting, if any (None: ours is the one to enqueue).
        waiting = redis.set(FLUSH_KEY, job_id, nx=True, get=True, ex=FLUSH_SECONDS + 60)
        if waiting is not None:
            # redis-py types a sync client's answers as "Awaitable | Any" (shared with asyncio)
            if not check_waiting or (waiting and _pending(waiting.decode(), redis)):  # type: ignore[union-attr]
                return True
            redis.set(FLUSH_KEY, job_id, ex=FLUSH_SECONDS + 60)
        queue.enqueue(
            deliver_due.func,
            job_id=job_id,
            job_timeout=FLUSH_SECONDS + 120,
            result_ttl=600,
            failure_ttl=7 * 24 * 3600,
        )
    except Exception as exc:  # redis.ConnectionError, TimeoutError, …
        redis_guard.failed()
        log.warning("could not enqueue an outbox flush, the sweep will: %s", exc)
        return False
    redis_guard.succeeded()
    return True


def enqueue_messages(ids: list[int]) -> int:
    """After a commit: make sure a flush job will deliver these rows. Returns how many rows
    are covered (0 if Redis is down: the rows stay unsent and the maintenance sweep picks them
    up). In a request the ask is debounced (:func:`_debounced`)."""
    if has_request_context() and _debounced():
        return len(ids)
    return len(ids) if request_flush() else 0


_debounce_lock = threading.Lock()
_window_ends: dict[str, float] = {}  # per app (its Redis URL): when the next ask may go out
_trailing: dict[str, threading.Timer] = {}


def _debounced() -> bool:
    """True if this process asked for a flush less than ``OUTBOX_FLUSH_DEBOUNCE_MS`` ago (the
    caller then skips the Redis round trip). The commit may have come after that flush job
    read the outbox, so a timer asks once more when the window ends: every commit is followed
    by an ask within the window, however many requests share it."""
    window = current_app.config["OUTBOX_FLUSH_DEBOUNCE_MS"] / 1000
    if window <= 0:
        return False
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    key = str(app.config["RQ_CONNECTION"])
    now = time.monotonic()
    with _debounce_lock:
        ends = _window_ends.get(key, 0.0)
        if now >= ends:
            _window_ends[key] = now + window
            return False
        if key not in _trailing:
            timer = threading.Timer(ends - now, _ask_at_window_end, (app, key, window))
            timer.daemon = True
            _trailing[key] = timer
            timer.start()
    return True


def _ask_at_window_end(app: Flask, key: str, window: float) -> None:
    with _debounce_lock:
        _trailing.pop(key, None)
        _window_ends[key] = time.monotonic() + window
    with app.app_context():
        request_flush()


# --- delivery ------------------------------------------------------------------------------------

_outbox = cast(Table, OutboxMessage.__table__)
_DUE = (
    _outbox.c.sent_at.is_(None),
    _outbox.c.failed_at.is_(None),
    _outbox.c.suppressed_at.is_(None),
)


class OutboxSource:
    """Transactional mail for :func:`forum.delivery.deliver`."""

    gives_up = False

    def __init__(self, due_only: bool = True):
        self.due_only = due_only
        self.recipients: dict[int, str] = {}

    def pace(self) -> None:
        pass

    def claim(self, item_id: int, until: datetime, now: datetime) -> bool:
        conditions = [
            _outbox.c.id == item_id,
            *_DUE,
            or_(_outbox.c.claimed_until.is_(None), _outbox.c.claimed_until < now),
        ]
        if self.due_only:
            conditions.append(
                or_(_outbox.c.next_attempt_at.is_(None), _outbox.c.next_attempt_at <= now)
            )
        result = execute_dml(
            update(_outbox)
            .where(*conditions)
            .values(claimed_until=until, attempts=_outbox.c.attempts + 1)
        )
        return result.rowcount == 1

    def load(self, item_id: int) -> Any:
        row = db.session.execute(
            select(
                _outbox.c.recipient,
                _outbox.c.template,
                _outbox.c.locale,
                _outbox.c.context,
                _outbox.c.headers,
                _outbox.c.attachments,
                _outbox.c.attempts,
                _outbox.c.id,
            ).where(_outbox.c.id == item_id)
        ).one_or_none()
        if row is None:
            return None
        self.recipients[item_id] = row.recipient
        held = active_suppression(row.recipient)
        if held is not None:
            return delivery.Skipped(f"suppressed: {held.detail or held.reason}")
        return row

    def attempts(self, item: Any) -> int:
        return item.attempts

    def build(self, item: Any) -> delivery.Envelope:
        rendered = render_mail(item.template, item.locale, item.context or {})
        # Transactional mail: no auto-replies (RFC 3834).
        rendered.headers.update({"Auto-Submitted": "auto-generated", **(item.headers or {})})
        message = build_message(item.recipient, rendered, item.attachments)
        return delivery.Envelope(
            sender=envelope_sender("o", item.id),
            recipient=item.recipient,
            data=message.as_bytes(),
            keep={"subject": rendered.subject[:300], "body_text": rendered.text},
        )

    def record(self, item_id: int, outcome: delivery.Outcome) -> None:
        values: dict[str, Any] = {"claimed_until": None}
        if isinstance(outcome, delivery.Sent):
            values.update(sent_at=outcome.at, last_error=None, next_attempt_at=None, **outcome.keep)
        elif isinstance(outcome, delivery.Skipped):  # held: the address is suppressed
            values.update(suppressed_at=utcnow(), last_error=outcome.reason[:2000])
        elif isinstance(outcome, delivery.Failure):
            values["last_error"] = outcome.answer
            if outcome.retry_at is None:
                values["failed_at"] = utcnow()
                log.error("outbox %s failed permanently: %s", item_id, outcome.answer)
            else:
                values["next_attempt_at"] = outcome.retry_at
            if outcome.refused and item_id in self.recipients:
                record_event(
                    MailEventKind.REFUSED,
                    self.recipients[item_id],
                    outcome.answer,
                    "smtp",
                    outbox_message_id=item_id,
                )
        db.session.execute(update(_outbox).where(_outbox.c.id == item_id).values(**values))


def run_intakes(limit: int = 200) -> int:
    """Hand every due intake row to its handler, one transaction per row (the row deleted in
    it, so a row is handled once even with two flush jobs). A handler that raises leaves its
    row marked failed with the error. Returns how many rows were handled."""
    intakes = _intakes()
    if not intakes:
        return 0
    done = 0
    while True:
        with read_only():
            rows = db.session.execute(
                select(
                    _outbox.c.id,
                    _outbox.c.template,
                    _outbox.c.recipient,
                    _outbox.c.locale,
                    _outbox.c.context,
                )
                .where(*_DUE, _outbox.c.template.in_(list(intakes)))
                .order_by(_outbox.c.id)
                .limit(limit)
            ).all()
            db.session.commit()
        if not rows:
            return done
        for row in rows:
            try:
                if execute_dml(delete(_outbox).where(_outbox.c.id == row.id)).rowcount == 1:
                    intakes[row.template](row.recipient, row.locale, row.context or {})
                    done += 1
                db.session.commit()
            except Exception as exc:
                db.session.rollback()
                log.exception("outbox intake %s failed", row.id)
                db.session.execute(
                    update(_outbox)
                    .where(_outbox.c.id == row.id)
                    .values(failed_at=utcnow(), last_error=f"{type(exc).__name__}: {exc}"[:2000])
                )
                db.session.commit()


def _due_ids(limit: int = 200) -> Iterator[int]:
    """Due rows in id order, read in pages (a deferred transaction on SQLite); intake rows
    are left to :func:`run_intakes`."""
    last = 0
    while True:
        now = utcnow()
        with read_only():
            ids = db.session.scalars(
                select(_outbox.c.id)
                .where(
                    *_DUE,
                    _outbox.c.template.not_in(list(_intakes()) or [""]),
                    _outbox.c.id > last,
                    or_(_outbox.c.claimed_until.is_(None), _outbox.c.claimed_until < now),
                    or_(_outbox.c.next_attempt_at.is_(None), _outbox.c.next_attempt_at <= now),
                )
                .order_by(_outbox.c.id)
                .limit(limit)
            ).all()
            db.session.commit()
        if not ids:
            return
        yield from ids
        last = ids[-1]


def deliver_message(message_id: int) -> str:
    """Deliver one outbox row now, also before its retry is due. Idempotent: a sent row is
    never sent again. Returns ``sent``, ``deferred``, ``failed`` or ``skipped``."""
    counts = delivery.deliver(OutboxSource(due_only=False), [message_id])
    for name in ("sent", "failed", "deferred"):
        if counts[name]:
            return name
    return "deferred" if counts["connection_lost"] else "skipped"


@rq.job(queue="mail")
def deliver_due() -> dict[str, int]:
    """The flush job: deliver every due outbox row over one SMTP connection, for at most
    ``FLUSH_SECONDS`` (then the next flush is enqueued)."""
    job = get_current_job()
    if job is not None:
        try:  # from now on, a commit enqueues a new flush (this one may have read past it)
            redis = job.connection
            # redis-py types a sync client's answers as "Awaitable | Any" (shared with asyncio)
            if (redis.get(FLUSH_KEY) or b"").decode() == job.id:  # type: ignore[union-attr]
                redis.delete(FLUSH_KEY)
        except Exception as exc:  # the key expires by itself
            log.warning("could not clear the flush key: %s", exc)
    run_intakes()
    counts = delivery.deliver(OutboxSource(), _due_ids(), time.monotonic() + FLUSH_SECONDS)
    if counts["stopped"]:
        request_flush(check_waiting=True)
    return dict(counts)


def due_count(include_waiting: bool = False) -> int:
    now = utcnow()
    conditions = [
        *_DUE,
        or_(_outbox.c.claimed_until.is_(None), _outbox.c.claimed_until < now),
    ]
    if not include_waiting:
        conditions.append(
            or_(_outbox.c.next_attempt_at.is_(None), _outbox.c.next_attempt_at <= now)
        )
    with read_only():
        count = db.session.scalars(select(func.count(_outbox.c.id)).where(*conditions)).one()
        db.session.commit()
    return count


def sweep_unsent(include_waiting: bool = False) -> int:
    """The maintenance sweep: when rows are due, make sure a flush job waits for them; with
    ``include_waiting`` (the ``maintenance run`` command) rows waiting for their retry are made
    due at once, so that an operator can flush the outbox after an outage. Returns how many
    rows the flush will find (0 if Redis is unreachable)."""
    if include_waiting:
        db.session.execute(
            update(_outbox)
            .where(*_DUE, _outbox.c.next_attempt_at.is_not(None))
            .values(next_attempt_at=None)
        )
        db.session.commit()
    count = due_count()
    if not count:
        return 0
    return count if request_flush(check_waiting=True) else 0
