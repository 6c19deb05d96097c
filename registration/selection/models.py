"""Reviews, staged decisions, tags and internal notes of applications."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import UTCDateTime, utcnow
from forum.extensions import Model
from forum.models import Organizer

from ..models import Application


class Review(Model):
    """One organizer's review of one application: a score 1-5 per criterion of the round (in
    the round's order), their mean in ``score`` (for ranking in SQL), a note only the reviewer
    sees; or a declared conflict of interest (no scores, not counted)."""

    __tablename__ = "review"
    __table_args__ = (
        UniqueConstraint("application_id", "organizer_id", name="uq_review_application_organizer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    organizer_id: Mapped[int] = mapped_column(
        ForeignKey("organizer.id", ondelete="CASCADE"), index=True
    )
    scores: Mapped[list[int]] = mapped_column(JSON, default=list)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    application: Mapped[Application] = relationship()
    organizer: Mapped[Organizer] = relationship()


class StagedDecision(Model):
    """A decision prepared for release: ``admit``, ``waitlist`` or ``reject`` with an optional
    message to the applicant. Changes no status and sends no mail until released; the release
    applies it and deletes the row. At most one per application."""

    __tablename__ = "staged_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), unique=True
    )
    action: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="")
    organizer_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizer.id", ondelete="SET NULL"), nullable=True
    )
    staged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship()


class ApplicationTag(Model):
    """A short label on an application, for organizers only (never the applicant, never mails)."""

    __tablename__ = "application_tag"
    __table_args__ = (UniqueConstraint("application_id", "tag", name="uq_application_tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    tag: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApplicationNote(Model):
    """An internal note on an application, visible to all organizers of the forum."""

    __tablename__ = "application_note"
    __table_args__ = (Index("ix_application_note_application", "application_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(254), default="")
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


#: Sizes the forms check against.
TAG_MAX = 40
NOTE_MAX = 4000
__all__ = [
    "ApplicationNote",
    "ApplicationTag",
    "Review",
    "StagedDecision",
]
