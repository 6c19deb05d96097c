"""Subscribers with their consent records, announcements and per-recipient deliveries."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import UTCDateTime, utcnow
from forum.enum_column import enum_column, status_test
from forum.extensions import Model


def _public_id() -> str:
    return secrets.token_urlsafe(16)


class SubscriberStatus(enum.StrEnum):
    PENDING = "pending"  # asked, not yet confirmed: receives nothing but confirmation mails
    CONFIRMED = "confirmed"  # receives announcements
    UNSUBSCRIBED = "unsubscribed"  # receives nothing


E = TypeVar("E", bound=enum.StrEnum)


class StatusError(ValueError):
    """The table of allowed transitions does not allow this change of status."""


def _change_status(current: str, to: E, allowed: dict[E, frozenset[E]]) -> E:
    if to not in allowed.get(type(to)(current), frozenset()):
        raise StatusError(f"{current} -> {to} not allowed")
    return to


def sources_of(to: E, allowed: dict[E, frozenset[E]]) -> list[str]:
    """The statuses from which ``to`` may follow (for conditional UPDATEs)."""
    return sorted(s.value for s, targets in allowed.items() if to in targets)


def values_of(statuses: frozenset[E] | tuple[E, ...]) -> list[str]:
    """A named set of statuses as strings (for ``IN (…)`` in queries)."""
    return sorted(s.value for s in statuses)


SP = SubscriberStatus
#: The subscriber's allowed changes: a request asks again (pending, also after unsubscribing),
#: the link confirms, unsubscribing (link, one-click, suppression) ends it.
SUBSCRIBER_TRANSITIONS: dict[SubscriberStatus, frozenset[SubscriberStatus]] = {
    SP.PENDING: frozenset({SP.PENDING, SP.CONFIRMED, SP.UNSUBSCRIBED}),
    SP.CONFIRMED: frozenset({SP.UNSUBSCRIBED}),
    SP.UNSUBSCRIBED: frozenset({SP.PENDING}),
}


#: Receives announcements.
RECEIVING: frozenset[SubscriberStatus] = frozenset({SP.CONFIRMED})
receives_announcements = status_test(RECEIVING)


class Source(enum.StrEnum):
    NEWSLETTER_FORM = "newsletter_form"
    APPLICATION_FORM = "application_form"
    IMPORT = "import"


class Subscriber(Model):
    __tablename__ = "newsletter_subscriber"
    __table_args__ = (Index("ix_newsletter_subscriber_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Named in unsubscribe links; random, so that links cannot be guessed from a number.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=_public_id)
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str] = mapped_column(String(5), default="de")
    status: Mapped[SubscriberStatus] = mapped_column(
        enum_column(SubscriberStatus), default=SubscriberStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the last confirmation mail was queued: at most one per hour for a pending address.
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # "link" (the page's button), "one-click" (RFC 8058 POST from the mail client)
    unsubscribed_via: Mapped[str] = mapped_column(String(20), default="")

    consents: Mapped[list[ConsentRecord]] = relationship(
        back_populates="subscriber",
        order_by="ConsentRecord.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    def change_status(self, to: SubscriberStatus) -> None:
        """The one way to change the status; :class:`StatusError` if the table forbids it."""
        self.status = _change_status(self.status, to, SUBSCRIBER_TRANSITIONS)

    def __repr__(self) -> str:
        return f"<Subscriber {self.id} {self.status}>"


class ConsentRecord(Model):
    """One request to subscribe, with what is needed to prove the consent later: when it was
    asked for and confirmed, through which form (and round), the version of the consent
    wording shown, and the confirmation mail as it was sent. No IP address is stored."""

    __tablename__ = "newsletter_consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=_public_id)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("newsletter_subscriber.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))  # the address as given in this request
    name: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str] = mapped_column(String(5), default="de")
    source: Mapped[str] = mapped_column(String(30))
    round_id: Mapped[int | None] = mapped_column(
        ForeignKey("round.id", ondelete="SET NULL"), nullable=True
    )
    # Kept as text: rounds are deleted by the retention clean-up, the proof must stay.
    round_label: Mapped[str] = mapped_column(String(300), default="")
    wording_version: Mapped[str] = mapped_column(String(40))
    wording_text: Mapped[str] = mapped_column(Text, default="")
    privacy_version: Mapped[str] = mapped_column(String(40), default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set on the confirmed record when the address unsubscribes (the consent is withdrawn).
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Why, when not by the subscriber's own hand (e.g. "hard_bounce: 550 5.1.1 …").
    withdrawn_reason: Mapped[str] = mapped_column(Text, default="")
    outbox_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_message.id", ondelete="SET NULL"), nullable=True
    )
    # Copied from the outbox row when the link in it is used (the mail as it was sent).
    mail_subject: Mapped[str] = mapped_column(String(300), default="")
    mail_text: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")  # e.g. the import file and its line

    subscriber: Mapped[Subscriber] = relationship(back_populates="consents")


class AnnouncementStatus(enum.StrEnum):
    DRAFT = "draft"
    QUEUED = "queued"  # dispatch requested, the dispatch job has not yet run
    SENDING = "sending"  # deliveries created, batches running
    DONE = "done"  # nothing queued or deferred any more


AS = AnnouncementStatus
#: The announcement's allowed changes: dispatch requested, the dispatch job made the deliveries,
#: the last batch finished; retrying failed deliveries sends again.
ANNOUNCEMENT_TRANSITIONS: dict[AnnouncementStatus, frozenset[AnnouncementStatus]] = {
    AS.DRAFT: frozenset({AS.QUEUED}),
    AS.QUEUED: frozenset({AS.SENDING}),
    AS.SENDING: frozenset({AS.SENDING, AS.DONE}),
    AS.DONE: frozenset({AS.SENDING}),
}


#: Dispatch requested or running: batches still to come (the page refreshes, maintenance resumes
#: it); the others (a draft, a finished dispatch) are at rest.
DISPATCHING: frozenset[AnnouncementStatus] = frozenset({AS.QUEUED, AS.SENDING})
dispatching = status_test(DISPATCHING)


class Announcement(Model):
    __tablename__ = "newsletter_announcement"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int | None] = mapped_column(
        ForeignKey("round.id", ondelete="SET NULL"), nullable=True, index=True
    )
    round_label: Mapped[str] = mapped_column(String(300), default="")
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # plain text with light Markdown
    # The optional English version; subscribers whose language is English get it, all others
    # (and English subscribers when there is none) the German text in a German frame.
    subject_en: Mapped[str] = mapped_column(String(200), default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[AnnouncementStatus] = mapped_column(
        enum_column(AnnouncementStatus), default=AnnouncementStatus.DRAFT
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizer.id", ondelete="SET NULL"), nullable=True
    )
    created_by_label: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # The last problem of the dispatch as a whole (e.g. the SMTP server unreachable).
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    def change_status(self, to: AnnouncementStatus) -> None:
        """The one way to change the status; :class:`StatusError` if the table forbids it."""
        self.status = _change_status(self.status, to, ANNOUNCEMENT_TRANSITIONS)

    @property
    def is_draft(self) -> bool:
        return self.status == AnnouncementStatus.DRAFT

    def text_for(self, locale: str) -> tuple[str, str, str]:
        """``(locale, subject, body)`` for a subscriber's language: English only where an
        English text was written, so that no German text sits in an English frame."""
        if locale == "en" and (self.body_en or "").strip() and (self.subject_en or "").strip():
            return "en", self.subject_en, self.body_en
        return "de", self.subject, self.body


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DEFERRED = "deferred"  # a temporary failure; retried automatically
    FAILED = "failed"  # a permanent failure, or retries used up; retried by hand
    SKIPPED = "skipped"  # unsubscribed before it was this address's turn


#: Statuses a batch still has to work on.
OPEN_DELIVERY = (DeliveryStatus.QUEUED.value, DeliveryStatus.DEFERRED.value)
#: Problems: shown on the progress page and queued again by "retry".
PROBLEM_DELIVERY: frozenset[DeliveryStatus] = frozenset(
    {DeliveryStatus.FAILED, DeliveryStatus.DEFERRED}
)


class Delivery(Model):
    __tablename__ = "newsletter_delivery"
    __table_args__ = (
        UniqueConstraint("announcement_id", "subscriber_id", name="uq_newsletter_delivery"),
        Index("ix_newsletter_delivery_status", "announcement_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    announcement_id: Mapped[int] = mapped_column(
        ForeignKey("newsletter_announcement.id", ondelete="CASCADE")
    )
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("newsletter_subscriber.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)  # the SMTP answer
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    subscriber: Mapped[Subscriber] = relationship()


#: The named sets as Jinja tests (``{% if announcement is dispatching %}``).
TESTS: dict[str, Callable[[object], bool]] = {
    "dispatching": dispatching,
    "receiving_announcements": receives_announcements,
}
