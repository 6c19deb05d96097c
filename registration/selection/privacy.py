"""Tags, internal notes and reviews in the privacy export and the erasure (registered with
:func:`forum.privacy.register_personal_data`). The key is the normalised address."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from forum.db import execute_dml
from forum.extensions import db

from ..models import Application
from .models import ApplicationNote, ApplicationTag, Review, StagedDecision


def _ids(key: str) -> dict[int, Application]:
    return {
        a.id: a
        for a in db.session.scalars(select(Application).where(Application.email_normalized == key))
    }


def export_notes(key: str) -> list[dict[str, Any]]:
    """Per application of the address: its tags, internal notes and reviews (scores and the
    reviewers' notes are data about the person too)."""
    applications = _ids(key)
    out = []
    for application_id, application in applications.items():
        tags = db.session.scalars(
            select(ApplicationTag.tag).where(ApplicationTag.application_id == application_id)
        ).all()
        notes = db.session.scalars(
            select(ApplicationNote)
            .where(ApplicationNote.application_id == application_id)
            .order_by(ApplicationNote.id)
        ).all()
        reviews = db.session.scalars(
            select(Review).where(Review.application_id == application_id).order_by(Review.id)
        ).all()
        if not (tags or notes or reviews):
            continue
        out.append(
            {
                "round": application.round.slug,
                "tags": sorted(tags),
                "notes": [
                    {"at": n.created_at.isoformat(), "author": n.author, "text": n.text}
                    for n in notes
                ],
                "reviews": [
                    {
                        "scores": r.scores,
                        "note": r.note,
                        "conflict": r.conflict,
                        "at": r.updated_at.isoformat(),
                    }
                    for r in reviews
                ],
            }
        )
    return out


def erase_notes(key: str, reason: str) -> int:
    """Delete the tags, notes, reviewers' notes and staged decisions of the address's
    applications (scores stay, without notes: they name nobody). Does not commit."""
    ids = list(_ids(key))
    if not ids:
        return 0
    count = 0
    for model in (ApplicationTag, ApplicationNote, StagedDecision):
        count += execute_dml(delete(model).where(model.application_id.in_(ids))).rowcount
    for review in db.session.scalars(select(Review).where(Review.application_id.in_(ids))):
        if review.note:
            review.note = ""
            count += 1
    return count


def scrub(application: Application) -> None:
    """For the anonymisation of one application (erasure and retention): its tags, internal
    notes and staged decision go, the reviewers' notes are emptied; the scores stay (they name
    nobody). Does not commit."""
    for model in (ApplicationTag, ApplicationNote, StagedDecision):
        db.session.execute(delete(model).where(model.application_id == application.id))
    for review in db.session.scalars(select(Review).where(Review.application_id == application.id)):
        review.note = ""
