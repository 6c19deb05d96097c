"""Applications and their history."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import UTCDateTime, utcnow
from forum.enum_column import enum_column
from forum.extensions import Model
from forum.models import Round

# The statuses, who changes them, and which are live or hold a seat: the lifecycle's table.
from .lifecycle import HOLDING as HOLDING
from .lifecycle import LIVE, Status, values
from .lifecycle import Actor as Actor

_live_sql = "status IN ({})".format(", ".join(f"'{value}'" for value in values(LIVE)))


#: The applicant's own entries (the public form's text and choice fields, PRODUCT.md).
APPLICATION_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "organisation",
    "body_type",
    "state",
    "role",
    "department",
    "motivation",
    "challenge",
)


def _public_id() -> str:
    return secrets.token_urlsafe(16)


class Application(Model):
    __tablename__ = "application"
    __table_args__ = (
        # At most one live application per address and round, enforced by the database.
        Index(
            "uq_application_live_email",
            "round_id",
            "email_normalized",
            unique=True,
            sqlite_where=text(_live_sql),
            postgresql_where=text(_live_sql),
        ),
        Index("ix_application_round_status", "round_id", "status"),
        # Waitlist positions are 1..n per round; the database refuses duplicates (NULLs, for
        # applications not on the waitlist, are distinct on both databases).
        Index("uq_application_round_waitlist", "round_id", "waitlist_position", unique=True),
        # The maintenance run looks for offers past their deadline.
        Index("ix_application_status_offer_deadline", "status", "offer_deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=_public_id)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    status: Mapped[Status] = mapped_column(enum_column(Status), default=Status.PENDING_EMAIL)
    locale: Mapped[str] = mapped_column(String(5), default="de")

    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40), default="")
    organisation: Mapped[str] = mapped_column(String(200))
    organisation_normalized: Mapped[str] = mapped_column(String(200), index=True)
    body_type: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(5))
    role: Mapped[str] = mapped_column(String(30))
    department: Mapped[str] = mapped_column(String(30), default="")
    motivation: Mapped[str] = mapped_column(Text)
    challenge: Mapped[str] = mapped_column(Text)
    commitment: Mapped[bool] = mapped_column(default=False)
    privacy_consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    privacy_version: Mapped[str] = mapped_column(String(20))
    newsletter_requested: Mapped[bool] = mapped_column(default=False)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirm_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    waitlist_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    offer_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Set when the personal data was erased (on request, or by the retention clean-up): names,
    # address and free texts are gone; status, state, role and times stay for statistics.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Optional consent: accepted participants of the round may see name, organisation and role
    # (issue 13). Time and wording version as for the other consents; withdrawn on the status
    # page (share_contact False, the time of the withdrawal in share_contact_at).
    share_contact: Mapped[bool] = mapped_column(default=False)
    share_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    share_contact_version: Mapped[str] = mapped_column(String(20), default="")

    round: Mapped[Round] = relationship()
    events: Mapped[list[ApplicationEvent]] = relationship(
        back_populates="application",
        order_by="ApplicationEvent.id",
        cascade="all, delete-orphan",
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE

    def __repr__(self) -> str:
        return f"<Application {self.id} {self.status}>"


class ApplicationEvent(Model):
    """One transition: when, who (applicant, organizer, system), from what to what, why."""

    __tablename__ = "application_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(20))
    actor_label: Mapped[str] = mapped_column(String(254), default="")
    from_status: Mapped[Status | None] = mapped_column(enum_column(Status), nullable=True)
    to_status: Mapped[Status] = mapped_column(enum_column(Status))
    reason: Mapped[str] = mapped_column(Text, default="")

    application: Mapped[Application] = relationship(back_populates="events")


class InvitationAnswer(enum.StrEnum):
    """Where an invitation stands (derived from its fields, not stored)."""

    APPLIED = "applied"
    DECLINED = "declined"
    OPEN = "open"


class Invitation(Model):
    """A personal invitation to a round (steering groups, invited experts). The link in the
    mail (``/invitations/<token>``) names the invitation by its random ``public_id`` and is
    bound to the invited address: an application through it for that address needs no
    confirmation mail. One invitation per address and round."""

    __tablename__ = "invitation"
    __table_args__ = (
        Index("uq_invitation_round_email", "round_id", "email_normalized", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=_public_id)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(5), default="")
    role: Mapped[str] = mapped_column(String(30), default="")
    body_type: Mapped[str] = mapped_column(String(20), default="")
    locale: Mapped[str] = mapped_column(String(5), default="de")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(254), default="")
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    application_id: Mapped[int | None] = mapped_column(
        ForeignKey("application.id", ondelete="SET NULL"), nullable=True
    )

    round: Mapped[Round] = relationship()
    application: Mapped[Application | None] = relationship()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def answer(self) -> InvitationAnswer:
        if self.application_id is not None:
            return InvitationAnswer.APPLIED
        if self.declined_at is not None:
            return InvitationAnswer.DECLINED
        return InvitationAnswer.OPEN


class RoundGroup(Model):
    """A group within a round (collegial consultation group, focus group)."""

    __tablename__ = "round_group"
    __table_args__ = (Index("uq_round_group_name", "round_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[GroupMember]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="GroupMember.id"
    )


class GroupMember(Model):
    """A seat holder in a group; at most one group per application (a unique index)."""

    __tablename__ = "round_group_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("round_group.id", ondelete="CASCADE"), index=True
    )
    application_id: Mapped[int] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), unique=True
    )

    group: Mapped[RoundGroup] = relationship(back_populates="members")
    application: Mapped[Application] = relationship()


class MeetingReminder(Model):
    """One reminder mail queued for a participant, a meeting and a reminder day. The unique
    constraint is the last line of defence against a second mail; the reminder run takes the
    round's lock first, so two runs at the same time do not even try."""

    __tablename__ = "meeting_reminder"
    __table_args__ = (
        UniqueConstraint("meeting_id", "application_id", "days", name="uq_meeting_reminder"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    application_id: Mapped[int] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoundMessage(Model):
    """A message organizers sent to an audience of a round (the page or ``flask round
    message``): what, to whom, by whom, and how many mails were queued."""

    __tablename__ = "round_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"), index=True)
    audience: Mapped[str] = mapped_column(String(40))
    # Sent to one group of the round only (within the audience): its name at the time.
    group_name: Mapped[str] = mapped_column(String(100), default="")
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # Markdown
    sender: Mapped[str] = mapped_column(String(254))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attendance(Model):
    """Whether a person attended a meeting (``attended``, ``excused``, ``absent``)."""

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("meeting_id", "application_id", name="uq_attendance_meeting_application"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"))
    application_id: Mapped[int] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(10))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(254), default="")
