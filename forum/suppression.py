"""The one suppression list, and the log of bounces and complaints.

:func:`record_event` stores a bounce, a complaint or a refusal at send time (``mail_event``) and
decides: a hard bounce, a complaint or a 5xx answer puts the address on the list at once; soft
bounces count, and ``SOFT_BOUNCE_LIMIT`` of them within ``SOFT_BOUNCE_DAYS`` do too. Packages
that keep addresses react through :func:`register_suppression_hook` (the newsletter
unsubscribes the address, with the reason kept in its consent record), so this module knows
none of them. Transactional mail to a suppressed address is held by the outbox
(``OutboxMessage.suppressed_at``); lifting the suppression (an organizer, with a reason)
releases it. Functions here change state in the current transaction; they never commit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import func, select, update

from .db import execute_dml, utcnow
from .extensions import db
from .mail import normalize_email
from .models import MailEvent, MailEventKind, OutboxMessage, Suppression

#: Events that suppress the address at once.
SUPPRESSING = (MailEventKind.HARD_BOUNCE, MailEventKind.COMPLAINT, MailEventKind.REFUSED)

Hook = Callable[[str, str], None]  # (normalized address, reason text)


def export_mail_delivery(key: str) -> list[dict]:
    def iso(value):
        return value.isoformat() if value else None

    rows: list[dict] = [
        {
            "kind": e.kind,
            "detail": e.detail,
            "source": e.source,
            "created_at": iso(e.created_at),
        }
        for e in db.session.scalars(
            select(MailEvent).where(MailEvent.email_normalized == key).order_by(MailEvent.id)
        )
    ]
    for s in db.session.scalars(select(Suppression).where(Suppression.email_normalized == key)):
        rows.append(
            {
                "kind": "suppression",
                "detail": f"{s.reason}: {s.detail}",
                "created_at": iso(s.created_at),
                "lifted_at": iso(s.lifted_at),
                "lift_reason": s.lift_reason,
            }
        )
    return rows


def erase_mail_delivery(key: str, reason: str) -> int:
    """Delete the bounces, complaints and the suppression of the address (the person's
    newsletter record is deleted with them, so nothing is mailed to it any more)."""
    from sqlalchemy import delete

    count = execute_dml(delete(MailEvent).where(MailEvent.email_normalized == key)).rowcount
    count += execute_dml(delete(Suppression).where(Suppression.email_normalized == key)).rowcount
    return count


def register_suppression_hook(app: Flask, hook: Hook) -> None:
    """Call ``hook(address, reason)`` in the transaction that suppresses an address."""
    app.extensions.setdefault("suppression_hooks", []).append(hook)


def active_suppression(address: str) -> Suppression | None:
    return db.session.scalar(
        select(Suppression).where(
            Suppression.email_normalized == normalize_email(address),
            Suppression.lifted_at.is_(None),
        )
    )


def suppressed_addresses(addresses: list[str]) -> dict[str, Suppression]:
    """The active suppressions among ``addresses`` (keyed by normalized address): one query for
    a whole page of applications."""
    keys = {normalize_email(a) for a in addresses if a}
    if not keys:
        return {}
    rows = db.session.scalars(
        select(Suppression).where(
            Suppression.email_normalized.in_(keys), Suppression.lifted_at.is_(None)
        )
    )
    return {row.email_normalized: row for row in rows}


def record_event(
    kind: MailEventKind,
    address: str,
    detail: str = "",
    source: str = "",
    outbox_message_id: int | None = None,
    delivery_id: int | None = None,
    announcement_id: int | None = None,
    dedupe_key: str | None = None,
) -> MailEvent:
    """Log an event and suppress the address if it calls for it."""
    key = normalize_email(address)
    event = MailEvent(
        kind=kind.value,
        email_normalized=key,
        detail=detail[:2000],
        source=source[:20],
        outbox_message_id=outbox_message_id,
        delivery_id=delivery_id,
        announcement_id=announcement_id,
        dedupe_key=dedupe_key,
    )
    db.session.add(event)
    db.session.flush()
    label = f"{kind.value}: {detail}".strip(": ")[:500]
    if kind in SUPPRESSING:
        suppress(key, kind.value, label)
    elif kind == MailEventKind.SOFT_BOUNCE:
        since = utcnow() - timedelta(days=int(current_app.config["SOFT_BOUNCE_DAYS"]))
        lifted = db.session.scalar(
            select(Suppression.lifted_at).where(Suppression.email_normalized == key)
        )
        if lifted is not None and lifted > since:
            since = lifted  # bounces before a lift do not count again
        count = db.session.scalars(
            select(func.count(MailEvent.id)).where(
                MailEvent.email_normalized == key,
                MailEvent.kind == MailEventKind.SOFT_BOUNCE.value,
                MailEvent.created_at >= since,
            )
        ).one()
        if count >= int(current_app.config["SOFT_BOUNCE_LIMIT"]):
            suppress(key, "soft_bounces", f"{count} soft bounces, the last: {label}"[:500])
    return event


def suppress(address: str, reason: str, detail: str = "") -> bool:
    """Put an address on the list (again, if it was lifted). True if it was not on it."""
    key = normalize_email(address)
    row = db.session.scalar(select(Suppression).where(Suppression.email_normalized == key))
    if row is not None and row.lifted_at is None:
        return False
    now = utcnow()
    if row is None:
        row = Suppression(email_normalized=key, reason=reason, detail=detail, created_at=now)
        db.session.add(row)
    else:
        row.reason, row.detail, row.created_at = reason, detail, now
        row.lifted_at, row.lifted_by, row.lift_reason = None, "", ""
    db.session.flush()
    for hook in current_app.extensions.get("suppression_hooks", []):
        hook(key, detail or reason)
    return True


def lift(address: str, reason: str, by: str) -> bool:
    """Take an address off the list (an organizer, with a reason, after the person gave a new
    address or fixed their mailbox). Held transactional mail to it is released. False if it
    was not on the list."""
    row = active_suppression(address)
    if row is None:
        return False
    row.lifted_at = utcnow()
    row.lifted_by = by[:254]
    row.lift_reason = reason
    db.session.add(
        MailEvent(
            kind=MailEventKind.LIFTED.value,
            email_normalized=row.email_normalized,
            detail=reason[:2000],
            source="organizer",
        )
    )
    db.session.execute(
        update(OutboxMessage)
        .where(
            func.lower(OutboxMessage.recipient) == row.email_normalized,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            OutboxMessage.suppressed_at.is_not(None),
        )
        .values(suppressed_at=None, last_error=None, next_attempt_at=None)
    )
    return True
