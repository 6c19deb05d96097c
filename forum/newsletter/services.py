"""What the newsletter does: subscribe with double opt-in, confirm, unsubscribe, import a list,
look up and export a consent record. Functions here change state and queue mail and leave the
commit to the caller, except the maintenance task :func:`prune_unconfirmed`, which commits."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import current_app
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from forum.db import execute_dml, lock_row, utcnow
from forum.extensions import db
from forum.form_limits import CONTROL
from forum.mail import InvalidAddress, normalize_email, valid_address
from forum.models import OutboxMessage, Round
from forum.outbox import insert_mails, queue_mail
from forum.privacy import PRIVACY_VERSION, address_in_forums

from .consent import CONSENT_VERSION, consent_text
from .models import (
    SUBSCRIBER_TRANSITIONS,
    Announcement,
    ConsentRecord,
    Delivery,
    DeliveryStatus,
    Source,
    Subscriber,
    SubscriberStatus,
    sources_of,
)
from .tokens import Purpose, TokenExpired, TokenInvalid, confirm_url, read_token

log = logging.getLogger(__name__)

LOCALES = ("de", "en")


def normalize_address(address: str) -> tuple[str, str]:
    """``(address, key)``: :func:`forum.mail.valid_address` (ASCII, what the batch mails can
    carry) and the key that identifies a subscriber; :class:`InvalidAddress` if invalid."""
    address = valid_address(address)
    return address, normalize_email(address)


def clean_name(name: str | None) -> str:
    """One line, single spaces, no control characters (PostgreSQL cannot store NUL)."""
    return CONTROL.sub("", " ".join((name or "").split()))[:200]


def find_subscriber(address: str) -> Subscriber | None:
    try:
        _address, key = normalize_address(address)
    except InvalidAddress:
        key = normalize_email(address or "")
        if CONTROL.search(key):  # no stored address has one (and PostgreSQL refuses NUL)
            return None
    return db.session.scalar(select(Subscriber).where(Subscriber.email_normalized == key))


def _resend_interval() -> timedelta:
    return timedelta(seconds=current_app.config["NEWSLETTER_RESEND_SECONDS"])


# --- subscribing -----------------------------------------------------------------------------

#: The outbox intake (:func:`forum.outbox.register_intake`) of a subscription request.
SUBSCRIPTION_INTAKE = "newsletter_request"


def subscription_request(
    email: str,
    name: str,
    locale: str,
    source: str,
    round_id: int | None = None,
) -> dict[str, Any] | None:
    """The outbox row (for :func:`forum.outbox.insert_mails`) that asks for a subscription:
    the same row for every valid address, so the public forms do the same work whether an
    address is subscribed, pending or new (issue 12, finding 7); the flush job decides with
    :func:`request_subscription`. None for an address that is not valid."""
    try:
        address, _key = normalize_address(email)
    except InvalidAddress:
        log.info("newsletter request with an invalid address ignored")
        return None
    return {
        "recipient": address,
        "template": SUBSCRIPTION_INTAKE,
        "locale": locale if locale in LOCALES else "de",
        "context": {
            "name": clean_name(name),
            "source": Source(source).value,
            "round_id": round_id,
            "requested_at": utcnow().isoformat(),
        },
    }


def ask_for_subscription(
    email: str, name: str, locale: str, source: str, round_id: int | None = None
) -> None:
    """The request path of a subscription (the public form): one outbox row, decided after
    the commit (see :func:`subscription_request`). Does not commit."""
    row = subscription_request(email, name, locale, source, round_id)
    if row is not None:
        insert_mails([row])


def subscription_intake(recipient: str, locale: str, context: dict[str, Any]) -> None:
    """The flush job's handler of a :func:`subscription_request` row."""
    request_subscription(
        recipient,
        context.get("name", ""),
        locale,
        context["source"],
        context.get("round_id"),
        now=datetime.fromisoformat(context["requested_at"]),
    )


def request_subscription(
    email: str,
    name: str,
    locale: str,
    source: str,
    round_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Ask for a subscription (double opt-in): queue a confirmation mail with a consent record.

    The caller shows the same page whatever happens here, so nobody learns whether an address
    is subscribed: a confirmed address gets nothing, a pending one the confirmation mail again
    at most once per hour, an unsubscribed or new one a confirmation mail. Does not commit.

    ``source`` is ``"newsletter_form"`` or ``"application_form"`` (then with the ``round_id``);
    the record stores :data:`~forum.newsletter.consent.CONSENT_VERSION` and its text, so the
    checkbox that led here should show :func:`~forum.newsletter.consent.consent_text`.
    ``now``: when it was asked for (the public forms ask through :func:`ask_for_subscription`,
    and this runs in the flush job)."""
    try:
        address, key = normalize_address(email)
    except InvalidAddress:
        log.info("newsletter request with an invalid address ignored")
        return
    locale = locale if locale in LOCALES else "de"
    source = Source(source).value
    name = clean_name(name)
    now = now or utcnow()

    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email_normalized == key))
    if subscriber is None:
        try:
            with db.session.begin_nested():
                subscriber = Subscriber(
                    email=address,
                    email_normalized=key,
                    name=name,
                    locale=locale,
                    status=SubscriberStatus.PENDING.value,
                    created_at=now,
                )
                db.session.add(subscriber)
                db.session.flush()
        except IntegrityError:
            # A parallel request for the same address won (PostgreSQL): continue with its row.
            subscriber = db.session.scalar(
                select(Subscriber).where(Subscriber.email_normalized == key)
            )
            if subscriber is None:
                raise
    # Serialize requests for one address (a no-op on SQLite, which holds the write lock).
    subscriber = lock_row(Subscriber, subscriber.id)

    if subscriber.status == SubscriberStatus.CONFIRMED:
        return
    if (
        subscriber.status == SubscriberStatus.PENDING
        and subscriber.confirmation_sent_at is not None
        and now - subscriber.confirmation_sent_at < _resend_interval()
    ):
        return
    subscriber.change_status(SubscriberStatus.PENDING)
    subscriber.locale = locale
    if name:
        subscriber.name = name
    subscriber.confirmation_sent_at = now

    rnd = db.session.get(Round, round_id) if round_id else None
    record = ConsentRecord(
        subscriber=subscriber,
        email=address,
        name=name,
        locale=locale,
        source=source,
        round_id=rnd.id if rnd else None,
        round_label=f"{rnd.forum.title}: {rnd.title} ({rnd.slug})" if rnd else "",
        wording_version=CONSENT_VERSION,
        wording_text=consent_text(locale),
        privacy_version=PRIVACY_VERSION,
        requested_at=now,
    )
    db.session.add(record)
    db.session.flush()  # the record's public id goes into the link
    message = queue_mail(
        address,
        "newsletter_confirm",
        locale,
        {
            "name": name,
            "confirm_url": confirm_url(record.public_id, locale),
            "source": source,
            "round_title": rnd.title if rnd else "",
            "valid_days": _confirm_days(),
            "pending_days": int(current_app.config["NEWSLETTER_PENDING_DAYS"]),
        },
    )
    db.session.flush()
    record.outbox_message_id = message.id if message else None


def _confirm_days() -> int:
    return int(current_app.config["NEWSLETTER_CONFIRM_DAYS"])


class ConfirmOutcome(StrEnum):
    READY = "ready"  # valid, not yet used: the page shows the button
    CONFIRMED = "confirmed"  # just confirmed
    ALREADY = "already"  # used before, or the address is subscribed already
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass
class ConfirmResult:
    outcome: ConfirmOutcome
    record: ConsentRecord | None = None


def check_confirm_token(token: str) -> ConfirmResult:
    """What a confirmation link would do, without changing anything (the GET page)."""
    try:
        public_id = read_token(Purpose.CONFIRM, token, max_age=_confirm_days() * 86400)
    except TokenExpired:
        return ConfirmResult(ConfirmOutcome.EXPIRED)
    except TokenInvalid:
        return ConfirmResult(ConfirmOutcome.INVALID)
    record = db.session.scalar(select(ConsentRecord).where(ConsentRecord.public_id == public_id))
    if record is None:  # the pending request was pruned
        return ConfirmResult(ConfirmOutcome.EXPIRED)
    subscriber = record.subscriber
    if record.confirmed_at is not None or subscriber.status == SubscriberStatus.CONFIRMED:
        return ConfirmResult(ConfirmOutcome.ALREADY, record)
    if subscriber.unsubscribed_at is not None and subscriber.unsubscribed_at > record.requested_at:
        # Withdrawn after this request: an old link must not subscribe again.
        return ConfirmResult(ConfirmOutcome.EXPIRED, record)
    return ConfirmResult(ConfirmOutcome.READY, record)


def confirm_subscription(token: str) -> ConfirmResult:
    """Confirm the request a link names (POST). Records the time and the mail as it was sent."""
    result = check_confirm_token(token)
    if result.outcome != ConfirmOutcome.READY:
        return result
    assert result.record is not None  # READY carries the record
    subscriber = lock_row(Subscriber, result.record.subscriber_id)
    record = db.session.execute(
        select(ConsentRecord)
        .where(ConsentRecord.id == result.record.id)
        .execution_options(populate_existing=True)
    ).scalar_one()
    if record.confirmed_at is not None or subscriber.status == SubscriberStatus.CONFIRMED:
        return ConfirmResult(ConfirmOutcome.ALREADY, record)  # a parallel click won
    now = utcnow()
    record.confirmed_at = now
    _copy_sent_mail(record)
    subscriber.change_status(SubscriberStatus.CONFIRMED)
    subscriber.confirmed_at = now
    return ConfirmResult(ConfirmOutcome.CONFIRMED, record)


def _copy_sent_mail(record: ConsentRecord) -> None:
    """Keep the confirmation mail as sent in the record (the outbox may be cleaned up)."""
    if record.outbox_message_id is None:
        return
    message = db.session.get(OutboxMessage, record.outbox_message_id)
    if message is not None and message.body_text:
        record.mail_subject = message.subject or ""
        record.mail_text = message.body_text


# --- unsubscribing ---------------------------------------------------------------------------


class UnsubscribeOutcome(StrEnum):
    READY = "ready"
    UNSUBSCRIBED = "unsubscribed"
    ALREADY = "already"
    INVALID = "invalid"


def subscriber_for_unsubscribe_token(token: str) -> Subscriber | None:
    try:
        public_id = read_token(Purpose.UNSUBSCRIBE, token)  # no max_age: links never expire
    except (TokenInvalid, TokenExpired):
        return None
    return db.session.scalar(select(Subscriber).where(Subscriber.public_id == public_id))


def check_unsubscribe_token(token: str) -> tuple[UnsubscribeOutcome, Subscriber | None]:
    subscriber = subscriber_for_unsubscribe_token(token)
    if subscriber is None:
        return UnsubscribeOutcome.INVALID, None
    if subscriber.status == SubscriberStatus.UNSUBSCRIBED:
        return UnsubscribeOutcome.ALREADY, subscriber
    return UnsubscribeOutcome.READY, subscriber


#: From these a subscriber may unsubscribe (the table in models.py); a conditional UPDATE.
UNSUBSCRIBABLE = sources_of(SubscriberStatus.UNSUBSCRIBED, SUBSCRIBER_TRANSITIONS)


def unsubscribe(token: str, via: str) -> tuple[UnsubscribeOutcome, Subscriber | None]:
    """Unsubscribe the address a link names; idempotent. The conditional UPDATE takes effect at
    once for a dispatch already running: each batch checks the status right before each mail."""
    subscriber = subscriber_for_unsubscribe_token(token)
    if subscriber is None:
        return UnsubscribeOutcome.INVALID, None
    now = utcnow()
    changed = execute_dml(
        update(Subscriber)
        .where(
            Subscriber.id == subscriber.id,
            Subscriber.status.in_(UNSUBSCRIBABLE),
        )
        .values(
            status=SubscriberStatus.UNSUBSCRIBED.value,
            unsubscribed_at=now,
            unsubscribed_via=via[:20],
        )
    ).rowcount
    if not changed:
        return UnsubscribeOutcome.ALREADY, subscriber
    db.session.execute(
        update(ConsentRecord)
        .where(
            ConsentRecord.subscriber_id == subscriber.id,
            ConsentRecord.confirmed_at.is_not(None),
            ConsentRecord.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
    )
    return UnsubscribeOutcome.UNSUBSCRIBED, subscriber


def unsubscribe_suppressed(key: str, reason: str) -> None:
    """The suppression hook: an address on the suppression list is unsubscribed, the reason
    kept in its consent records (in the transaction that suppresses it)."""
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.email_normalized == key))
    if subscriber is None or subscriber.status not in UNSUBSCRIBABLE:
        return
    now = utcnow()
    db.session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber.id, Subscriber.status.in_(UNSUBSCRIBABLE))
        .values(
            status=SubscriberStatus.UNSUBSCRIBED.value,
            unsubscribed_at=now,
            unsubscribed_via="suppressed",
        )
    )
    db.session.execute(
        update(ConsentRecord)
        .where(ConsentRecord.subscriber_id == subscriber.id, ConsentRecord.withdrawn_at.is_(None))
        .values(withdrawn_at=now, withdrawn_reason=f"Adresse gesperrt: {reason}"[:2000])
    )


# --- consent records: lookup and export ------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def consent_export(address: str, forum_ids: set[int] | None = None) -> dict[str, Any] | None:
    """Everything stored about one address, as plain values (the JSON export).

    ``forum_ids`` (an organizer's forums; None for an admin) scopes it: the address must be
    tied to one of these forums (a consent given in one of their rounds, or whatever
    :func:`forum.privacy.address_in_forums` knows, e.g. an application), else None, as for an
    unknown address; and records and announcements of other forums' rounds are left out."""
    subscriber = find_subscriber(address)
    if subscriber is None:
        return None
    rounds_in_scope = None
    if forum_ids is not None:
        rounds_in_scope = set(
            db.session.scalars(select(Round.id).where(Round.forum_id.in_(forum_ids or {0})))
        )
        tied = any(r.round_id in rounds_in_scope for r in subscriber.consents)
        if not (tied or address_in_forums(subscriber.email_normalized, forum_ids)):
            return None

    def in_scope(round_id: int | None) -> bool:
        return rounds_in_scope is None or round_id is None or round_id in rounds_in_scope

    rows = db.session.execute(
        select(Announcement.id, Announcement.subject, Delivery.sent_at, Announcement.round_id)
        .join(Delivery, Delivery.announcement_id == Announcement.id)
        .where(
            Delivery.subscriber_id == subscriber.id,
            Delivery.status == DeliveryStatus.SENT.value,
        )
        .order_by(Delivery.sent_at)
    ).all()
    received = [(aid, subject, sent_at) for aid, subject, sent_at, rid in rows if in_scope(rid)]
    records = []
    for record in subscriber.consents:
        if not in_scope(record.round_id):
            continue
        outbox = (
            db.session.get(OutboxMessage, record.outbox_message_id)
            if record.outbox_message_id
            else None
        )
        records.append(
            {
                "id": record.public_id,
                "email": record.email,
                "name": record.name,
                "locale": record.locale,
                "source": record.source,
                "round": record.round_label or None,
                "requested_at": _iso(record.requested_at),
                "confirmed_at": _iso(record.confirmed_at),
                "withdrawn_at": _iso(record.withdrawn_at),
                "withdrawn_reason": record.withdrawn_reason or None,
                "consent_wording_version": record.wording_version,
                "consent_wording": record.wording_text,
                "privacy_notice_version": record.privacy_version,
                "confirmation_mail": {
                    "sent_at": _iso(outbox.sent_at) if outbox else None,
                    "subject": record.mail_subject or (outbox.subject if outbox else None),
                    "text": record.mail_text or (outbox.body_text if outbox else None),
                }
                if record.source != Source.IMPORT
                else None,
                "note": record.note,
            }
        )
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "status": subscriber.status,
        "locale": subscriber.locale,
        "created_at": _iso(subscriber.created_at),
        "confirmed_at": _iso(subscriber.confirmed_at),
        "unsubscribed_at": _iso(subscriber.unsubscribed_at),
        "unsubscribed_via": subscriber.unsubscribed_via or None,
        "consent_records": records,
        "announcements_received": [
            {"announcement": aid, "subject": subject, "sent_at": _iso(sent_at)}
            for aid, subject, sent_at in received
        ],
        "ip_addresses": "not stored",
        "exported_at": utcnow().isoformat(),
    }


CSV_COLUMNS = (
    "email",
    "status",
    "record",
    "source",
    "round",
    "requested_at",
    "confirmed_at",
    "withdrawn_at",
    "withdrawn_reason",
    "consent_wording_version",
    "consent_wording",
    "privacy_notice_version",
    "confirmation_mail_subject",
    "confirmation_mail_sent_at",
    "confirmation_mail_text",
    "note",
)


def consent_rows(export: dict[str, Any]) -> list[dict[str, str]]:
    """The export as CSV rows, one per consent record."""
    rows = []
    for r in export["consent_records"]:
        mail = r["confirmation_mail"] or {}
        rows.append(
            {
                "email": export["email"],
                "status": export["status"],
                "record": r["id"],
                "source": r["source"],
                "round": r["round"] or "",
                "requested_at": r["requested_at"] or "",
                "confirmed_at": r["confirmed_at"] or "",
                "withdrawn_at": r["withdrawn_at"] or "",
                "withdrawn_reason": r["withdrawn_reason"] or "",
                "consent_wording_version": r["consent_wording_version"],
                "consent_wording": r["consent_wording"],
                "privacy_notice_version": r["privacy_notice_version"],
                "confirmation_mail_subject": mail.get("subject") or "",
                "confirmation_mail_sent_at": mail.get("sent_at") or "",
                "confirmation_mail_text": mail.get("text") or "",
                "note": r["note"],
            }
        )
    return rows


# --- housekeeping ----------------------------------------------------------------------------


def prune_unconfirmed(now: datetime | None = None) -> int:
    """Delete addresses that asked but never confirmed within ``NEWSLETTER_PENDING_DAYS``
    (data minimization). Addresses with a confirmed record in their history are kept: that
    record is the proof of an earlier consent. A maintenance task: commits."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["NEWSLETTER_PENDING_DAYS"])
    confirmed_before = exists().where(
        ConsentRecord.subscriber_id == Subscriber.id, ConsentRecord.confirmed_at.is_not(None)
    )
    ids = select(Subscriber.id).where(
        Subscriber.status == SubscriberStatus.PENDING.value,
        func.coalesce(Subscriber.confirmation_sent_at, Subscriber.created_at) < cutoff,
        ~confirmed_before,
    )
    db.session.execute(delete(ConsentRecord).where(ConsentRecord.subscriber_id.in_(ids)))
    count = execute_dml(
        delete(Subscriber)
        .where(Subscriber.id.in_(ids))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return count
