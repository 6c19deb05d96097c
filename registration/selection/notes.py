"""Tags and internal notes on an application: for all organizers of the forum, never shown to
the applicant, never in mails. Adding or removing them is recorded in the history (without
the note's text, which stays in its own table and in the privacy export)."""

from __future__ import annotations

from sqlalchemy import select

from forum.db import lock_row
from forum.extensions import db
from forum.models import Organizer

from .. import lifecycle
from ..models import Actor, Application, Status
from .models import ApplicationNote, ApplicationTag


def tags(application: Application) -> list[str]:
    return list(
        db.session.scalars(
            select(ApplicationTag.tag)
            .where(ApplicationTag.application_id == application.id)
            .order_by(ApplicationTag.tag)
        )
    )


def tags_by_application(ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if ids:
        for application_id, tag in db.session.execute(
            select(ApplicationTag.application_id, ApplicationTag.tag)
            .where(ApplicationTag.application_id.in_(ids))
            .order_by(ApplicationTag.tag)
        ):
            out.setdefault(application_id, []).append(tag)
    return out


def notes(application: Application) -> list[ApplicationNote]:
    return list(
        db.session.scalars(
            select(ApplicationNote)
            .where(ApplicationNote.application_id == application.id)
            .order_by(ApplicationNote.id)
        )
    )


def _record(application: Application, organizer: Organizer, text: str) -> None:
    status = Status(application.status)
    lifecycle.record(
        application, status, Actor.ORGANIZER, text, organizer.email, from_status=status
    )


def add_tag(application: Application, tag: str, organizer: Organizer) -> bool:
    """False if the application already has the tag (compared case-insensitively). Locks the
    application's row, so the same tag sent twice at once is stored once."""
    lock_row(Application, application.id)
    if tag.casefold() in {t.casefold() for t in tags(application)}:
        return False
    db.session.add(ApplicationTag(application_id=application.id, tag=tag))
    _record(application, organizer, f"Schlagwort hinzugefügt: {tag}")
    db.session.flush()
    return True


def remove_tag(application: Application, tag: str, organizer: Organizer) -> bool:
    row = db.session.scalar(
        select(ApplicationTag).where(
            ApplicationTag.application_id == application.id, ApplicationTag.tag == tag
        )
    )
    if row is None:
        return False
    db.session.delete(row)
    _record(application, organizer, f"Schlagwort entfernt: {tag}")
    db.session.flush()
    return True


def add_note(application: Application, text: str, organizer: Organizer) -> ApplicationNote:
    note = ApplicationNote(application_id=application.id, author=organizer.email, text=text)
    db.session.add(note)
    _record(application, organizer, "Interne Notiz hinzugefügt")
    db.session.flush()
    return note
