"""Forums, rounds, meetings and the mail outbox."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
from typing import Any, Protocol, cast

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    event,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .db import UTCDateTime, utcnow
from .extensions import Model, db


class AdmissionMode(enum.StrEnum):
    REVIEW = "review"
    FIRST_COME = "first_come"


class Forum(Model):
    __tablename__ = "forum"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")  # Markdown
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    rounds: Mapped[list[Round]] = relationship(
        back_populates="forum", order_by="Round.opens", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Forum {self.slug}>"


class _Window(Protocol):
    @property
    def opens(self) -> datetime: ...

    @property
    def closes(self) -> datetime: ...


class ApplicationWindow:
    """When a round takes applications: the one rule for the ORM round and for the snapshot
    the application form's POST reads (:class:`RoundFacts`)."""

    def is_open(self: _Window, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.opens <= now <= self.closes

    def is_upcoming(self: _Window, now: datetime | None = None) -> bool:
        return (now or utcnow()) < self.opens

    def phase(self: _Window, now: datetime | None = None) -> str:
        now = now or utcnow()
        if now < self.opens:
            return "upcoming"
        if now > self.closes:
            return "closed"
        return "open"


class Round(ApplicationWindow, Model):
    __tablename__ = "round"

    id: Mapped[int] = mapped_column(primary_key=True)
    forum_id: Mapped[int] = mapped_column(ForeignKey("forum.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    seats: Mapped[int] = mapped_column(Integer)
    opens: Mapped[datetime] = mapped_column(UTCDateTime)
    closes: Mapped[datetime] = mapped_column(UTCDateTime)
    admission: Mapped[str] = mapped_column(String(20), default=AdmissionMode.REVIEW.value)
    auto_promote: Mapped[bool] = mapped_column(Boolean, default=True)
    offer_hours: Mapped[int] = mapped_column(Integer, default=168)
    confirm_hours: Mapped[int] = mapped_column(Integer, default=48)
    states: Mapped[list[str]] = mapped_column(JSON, default=list)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    body_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_per_state: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_per_organisation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Selection (review rounds): named criteria, each scored 1 to 5; how many reviews each
    # application should get; blind review hides who applied from reviewers until decisions
    # are staged (``review_revealed_at``, set by the first staged decision).
    review_criteria: Mapped[list[str]] = mapped_column(JSON, default=list)
    reviewers_per_application: Mapped[int] = mapped_column(Integer, default=2)
    blind_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Invitation-only rounds (steering groups): only invited addresses may apply. Invitees who
    # have not answered get one reminder this many days after the invitation.
    invitation_only: Mapped[bool] = mapped_column(Boolean, default=False)
    invitation_reminder_days: Mapped[int] = mapped_column(Integer, default=7)
    # Days before each meeting on which accepted participants get a reminder ([] = none).
    reminder_days: Mapped[list[int]] = mapped_column(JSON, default=lambda: [7, 1])
    # Bumped under the round's lock by every change of held seats or waitlist order, so that
    # concurrent writers serialize on this row on every database.
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    forum: Mapped[Forum] = relationship(back_populates="rounds")
    meetings: Mapped[list[Meeting]] = relationship(
        back_populates="round", order_by="Meeting.starts", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Round {self.slug}>"


@dataclass(frozen=True, slots=True)
class RoundFacts(ApplicationWindow):
    """What the application form's POST reads of its round, as one plain row: no ORM object
    (building one, with its loader options, costs more than the query). A page that renders
    loads the :class:`Round`."""

    id: int
    forum_id: int
    slug: str
    title: str
    opens: datetime
    closes: datetime
    confirm_hours: int
    states: list[str]
    roles: list[str]
    body_types: list[str]
    invitation_only: bool


@cache
def _round_facts_query() -> Select:
    columns = cast(Table, Round.__table__).c
    return select(*(columns[f.name] for f in fields(RoundFacts))).where(
        columns.slug == bindparam("slug")
    )


def round_facts(slug: str) -> RoundFacts | None:
    """The round's :class:`RoundFacts`, or None if there is no round of that slug."""
    row = db.session.connection().execute(_round_facts_query(), {"slug": slug}).first()
    return None if row is None else RoundFacts(*row)


def _meeting_uid() -> str:
    return f"meeting-{secrets.token_hex(12)}"


class Meeting(Model):
    """A working meeting. ``key`` is its identity within the round (forum file, pages); ``uid``
    is its calendar UID, made once and never changed; ``sequence`` counts the changes that
    calendars must see (RFC 5545 ``SEQUENCE``). A meeting is cancelled, not deleted, once anyone
    holds a seat in the round."""

    __tablename__ = "meeting"
    __table_args__ = (
        UniqueConstraint("round_id", "key", name="uq_meeting_round_key"),
        UniqueConstraint("uid", name="uq_meeting_uid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    uid: Mapped[str] = mapped_column(String(100), default=_meeting_uid)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200))
    starts: Mapped[datetime] = mapped_column(UTCDateTime)
    ends: Mapped[datetime] = mapped_column(UTCDateTime)
    venue: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    # Markdown, shown to seat holders on their status page (the agenda also in reminders).
    agenda: Mapped[str] = mapped_column(Text, default="")
    documentation: Mapped[str] = mapped_column(Text, default="")

    round: Mapped[Round] = relationship(back_populates="meetings")

    def __repr__(self) -> str:
        return f"<Meeting {self.key} of round {self.round_id}>"


@event.listens_for(Session, "before_flush")
def _default_meeting_keys(session: Session, _context, _instances) -> None:
    """A meeting made without a key gets the first free one of m1, m2, … in its round."""
    for obj in list(session.new):
        if not isinstance(obj, Meeting) or obj.key:
            continue
        if obj.round is not None:
            taken = {m.key for m in obj.round.meetings if m.key}
        else:
            taken = set(
                session.scalars(select(Meeting.key).where(Meeting.round_id == obj.round_id))
            )
        n = 1
        while f"m{n}" in taken:
            n += 1
        obj.key = f"m{n}"


class OutboxMessage(Model):
    """One e-mail, written in the transaction of the change that causes it and delivered by the
    worker. ``template`` names a pair in ``mail_templates/``; ``context`` holds plain values."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_unsent", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(80))
    locale: Mapped[str] = mapped_column(String(5), default="de")
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    attachments: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # What was sent, kept as sent (proof of a consent mail, support questions).
    subject: Mapped[str | None] = mapped_column(String(300), nullable=True)
    body_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Held because the address is on the suppression list (``last_error`` says why); lifting
    # the suppression releases it.
    suppressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def state(self) -> str:
        if self.sent_at:
            return "sent"
        if self.failed_at:
            return "failed"
        if self.suppressed_at:
            return "suppressed"
        return "pending"

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.template} to {self.recipient}>"


organizer_forum = db.Table(
    "organizer_forum",
    db.Column("organizer_id", ForeignKey("organizer.id", ondelete="CASCADE"), primary_key=True),
    db.Column("forum_id", ForeignKey("forum.id", ondelete="CASCADE"), primary_key=True),
)


class Organizer(Model):
    """A staff account. An admin manages organizers and all forums; an organizer the forums
    assigned to them."""

    __tablename__ = "organizer"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Changes when the password changes or the account is disabled: old sessions end.
    session_token: Mapped[str] = mapped_column(String(64))

    forums: Mapped[list[Forum]] = relationship(secondary=organizer_forum, order_by="Forum.title")

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def may_manage(self, forum_id: int) -> bool:
        return self.is_admin or any(f.id == forum_id for f in self.forums)

    def __repr__(self) -> str:
        return f"<Organizer {self.email}>"


class OrganizerSession(Model):
    """One signed-in browser of an organizer. The session cookie holds the random key, the
    database only its SHA-256: logging out deletes the row, and a copy of the cookie made
    before is worth nothing. "Log out everywhere" deletes all rows of the organizer."""

    __tablename__ = "organizer_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(
        ForeignKey("organizer.id", ondelete="CASCADE"), index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailEventKind(enum.StrEnum):
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"  # an ARF feedback report (RFC 5965)
    REFUSED = "refused"  # a 5xx answer at send time
    LIFTED = "lifted"  # an organizer lifted the suppression


class MailEvent(Model):
    """A bounce, a complaint, a refusal at send time, or a lifted suppression: the list that
    organizers read (``/admin/mail/bounces``). ``dedupe_key`` (the bounce's Message-ID, else a
    hash of it) makes importing the same mailbox twice change nothing."""

    __tablename__ = "mail_event"
    __table_args__ = (Index("ix_mail_event_email", "email_normalized", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))
    email_normalized: Mapped[str] = mapped_column(String(254))
    detail: Mapped[str] = mapped_column(Text, default="")  # the status, the diagnostic text
    source: Mapped[str] = mapped_column(String(20), default="")  # serve, import, smtp, organizer
    outbox_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delivery_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    announcement_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)


class Suppression(Model):
    """The one suppression list: no newsletter mail goes to an address on it, transactional
    mail to it is held. ``lifted_at`` set: the address may be mailed again."""

    __tablename__ = "suppression"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_normalized: Mapped[str] = mapped_column(String(254), unique=True)
    reason: Mapped[str] = mapped_column(String(20))  # a MailEventKind, or "soft_bounces"
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lifted_by: Mapped[str] = mapped_column(String(254), default="")
    lift_reason: Mapped[str] = mapped_column(Text, default="")

    @property
    def active(self) -> bool:
        return self.lifted_at is None


class AuditEntry(Model):
    """One organizer action worth knowing later: who exported, who decided, who changed an
    account or erased data. Names ids and slugs, never an applicant's name or address (a keyed
    hash where an address is the target); no IP address. Shown to admins at /admin/audit."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    organizer_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizer.id", ondelete="SET NULL"), nullable=True
    )
    actor: Mapped[str] = mapped_column(String(254))  # the organizer's address at the time
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")
