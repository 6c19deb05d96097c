"""One delivery layer for every mail: claim one message at a time, send it over a shared SMTP
connection, mark it, and back off after temporary failures.

Transactional mail (:mod:`forum.outbox`) and newsletter deliveries
(:mod:`forum.newsletter.jobs`) are rows with ``attempts``, ``claimed_until`` and
``next_attempt_at``. A :class:`Source` knows its table: it claims one row with a conditional
UPDATE, loads what the mail needs, builds the envelope and writes the outcome back.
:func:`deliver` runs the loop for both:

- The outcome of a mail is written in the same transaction as the claim of the next one, and
  only one row is claimed at a time. A worker (or its work-horse) killed at any moment leaves
  at most one mail sent but not marked; it goes out again once its claim has expired
  (``MAIL_CLAIM_SECONDS``), so at most one mail per killed worker is doubled.
- Nothing depends on RQ's scheduled registry (``Retry(interval=…)`` needs a worker started
  with ``--with-scheduler``). A temporary failure (4xx, a lost connection) sets
  ``next_attempt_at`` from ``MAIL_RETRY_INTERVALS``; the maintenance run (``rq cron`` and
  ``maintenance run``) enqueues what is due. A permanent failure (5xx, a refused address, a
  broken template or header) marks the row failed with the server's answer.
- One SMTP connection serves every message of a job; it is opened lazily, so a refused
  connection counts as a failed attempt of the first message and stops the job (the rest stays
  due and unclaimed).
"""

from __future__ import annotations

import smtplib
import time
from collections import Counter
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import jinja2
from flask import current_app

from .db import utcnow
from .extensions import db
from .mail import MailHeaderError, dkim_sign, smtp_connection


@dataclass
class Envelope:
    """What goes over SMTP: envelope sender and recipient, the message, and what the source
    wants to keep once it was sent (e.g. subject and text)."""

    sender: str
    recipient: str
    data: bytes
    keep: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sent:
    at: datetime
    keep: dict[str, Any] = field(default_factory=dict)


@dataclass
class Skipped:
    reason: str = ""


@dataclass
class Failure:
    """A failed attempt: ``retry_at`` is None when it is final (permanent, or retries used up)."""

    answer: str
    code: int | None
    permanent: bool
    retry_at: datetime | None = None

    @property
    def refused(self) -> bool:
        """A 5xx answer of the server: the address goes on the suppression list."""
        return self.code is not None and 500 <= self.code < 600


Outcome = Sent | Skipped | Failure


class Source(Protocol):
    #: Whether temporary failures end as failed after ``len(MAIL_RETRY_INTERVALS) + 1``
    #: attempts (newsletter), or are retried at the last interval for ever (transactional).
    gives_up: bool

    def pace(self) -> None:
        """Wait before the next claim (a rate limit); the default does nothing."""

    def claim(self, item_id: int, until: datetime, now: datetime) -> bool:
        """Conditional UPDATE in the current transaction (the caller commits): True if this
        job now holds the row (it counted one more attempt)."""

    def load(self, item_id: int) -> Any:
        """What the mail needs, read in the claim's transaction; a :class:`Skipped` if it must
        not be sent (recorded like any outcome); None if the row is gone."""

    def build(self, item: Any) -> Envelope:
        """The envelope (outside any transaction). Raises on a permanent problem."""

    def attempts(self, item: Any) -> int:
        """The attempts of the row, including the current one."""

    def record(self, item_id: int, outcome: Outcome) -> None:
        """Write an outcome in the current transaction (the caller commits)."""


# --- backoff and the classification of failures -------------------------------------------------


def retry_intervals() -> list[int]:
    return [int(s) for s in current_app.config["MAIL_RETRY_INTERVALS"]] or [60]


def max_attempts() -> int:
    return len(retry_intervals()) + 1


def claim_seconds() -> int:
    return int(current_app.config["MAIL_CLAIM_SECONDS"])


def retry_at(attempts: int, gives_up: bool) -> datetime | None:
    """When to try again after ``attempts`` failed tries (None: give up)."""
    intervals = retry_intervals()
    if gives_up and attempts >= max_attempts():
        return None
    wait = intervals[min(max(attempts - 1, 0), len(intervals) - 1)]
    return utcnow() + timedelta(seconds=wait)


# Errors that another attempt cannot fix: a refused address, a broken template or header.
PERMANENT = (
    MailHeaderError,
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    jinja2.TemplateError,
    UnicodeError,  # an address the SMTP connection cannot carry (no SMTPUTF8)
)


def classify(exc: Exception, attempts: int, gives_up: bool) -> Failure:
    """The SMTP answer (or the error) and whether it is final."""
    text: bytes | str
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
    if code is not None and 400 <= code < 500:
        permanent = False
    else:
        permanent = (code is not None and 500 <= code < 600) or isinstance(exc, PERMANENT)
    when = None if permanent else retry_at(attempts, gives_up)
    return Failure(
        answer=answer[:2000], code=code, permanent=permanent or when is None, retry_at=when
    )


class _ConnectionLost(Exception):
    pass


# --- the loop -----------------------------------------------------------------------------------


def deliver(source: Source, ids: Iterable[int], deadline: float | None = None) -> Counter:
    """Deliver the rows ``ids`` (those another job holds, or that are done, are passed over)
    over one SMTP connection; returns the counts of outcomes (``sent``, ``deferred``,
    ``failed``, ``skipped``, ``connection_lost``, ``stopped``)."""
    counts: Counter = Counter()
    pending: tuple[int, Outcome] | None = None
    stack = ExitStack()
    conn = None
    try:
        for item_id in ids:
            if deadline is not None and time.monotonic() > deadline:
                counts["stopped"] += 1
                break
            source.pace()
            now = utcnow()
            if pending is not None:
                source.record(*pending)
                pending = None
            if not source.claim(item_id, now + timedelta(seconds=claim_seconds()), now):
                db.session.commit()
                continue
            item = source.load(item_id)
            if item is None or isinstance(item, Skipped):
                if item is not None:
                    source.record(item_id, item)
                    counts["skipped"] += 1
                db.session.commit()
                continue
            db.session.commit()  # the claim (and the previous outcome) is stored
            attempts = source.attempts(item)
            try:
                envelope = source.build(item)
                if conn is None:
                    try:
                        conn = stack.enter_context(smtp_connection())
                    except (OSError, smtplib.SMTPException) as exc:
                        raise _ConnectionLost() from exc
                data = dkim_sign(envelope.data)
                assert conn.host is not None  # connected by entering the context
                conn.host.sendmail(envelope.sender, [envelope.recipient], data)
            except _ConnectionLost as lost:
                assert isinstance(lost.__cause__, Exception)  # always raised "from" the error
                pending = (item_id, classify(lost.__cause__, attempts, source.gives_up))
                counts["connection_lost"] += 1
                break
            except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as exc:
                failure = classify(exc, attempts, source.gives_up)  # refused: 4xx or 5xx
                pending = (item_id, failure)
                counts["failed" if failure.retry_at is None else "deferred"] += 1
                if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421:
                    counts["connection_lost"] += 1  # the server closes the connection
                    break
            except OSError as exc:  # disconnected, timeout, reset (SMTPException is an OSError)
                pending = (item_id, classify(exc, attempts, source.gives_up))
                counts["connection_lost"] += 1
                break
            except Exception as exc:  # a template or header that fails
                failure = classify(exc, attempts, source.gives_up)
                pending = (item_id, failure)
                counts["failed" if failure.retry_at is None else "deferred"] += 1
            else:
                pending = (item_id, Sent(at=utcnow(), keep=envelope.keep))
                counts["sent"] += 1
    except BaseException:
        db.session.rollback()
        if pending is not None:  # a mail that went out must not go out again
            source.record(*pending)
            db.session.commit()
        stack.close()
        raise
    if pending is not None:
        source.record(*pending)
    db.session.commit()
    try:
        stack.close()
    except (OSError, smtplib.SMTPException):  # QUIT on a broken connection
        pass
    return counts
