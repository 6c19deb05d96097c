"""Reviews: a reviewer's queue, submitting a review (or a conflict of interest), what a
reviewer may see of others' scores, and what blind review hides.

Service functions change state and record history; they never commit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from statistics import mean

from flask_babel import gettext as _
from sqlalchemy import and_, func, select

from forum.db import lock_row
from forum.extensions import db
from forum.models import Organizer, Round

from .. import lifecycle
from ..models import Actor, Application, Status
from .models import Review

#: Applications that can still be reviewed and decided.
REVIEWABLE = lifecycle.DECIDABLE


def criteria_of(rnd: Round) -> list[str]:
    """The round's criteria; a round without ``review_criteria`` is scored on one overall
    impression."""
    return list(rnd.review_criteria or []) or [_("Gesamteindruck")]


def counted():
    """The reviews that count (a conflict of interest has no scores)."""
    return Review.conflict.is_(False)


def review_stats_subquery():
    """Per application: the mean score, the number of reviews and the spread (highest minus
    lowest reviewer's mean), over the reviews that count."""
    return (
        select(
            Review.application_id.label("application_id"),
            func.avg(Review.score).label("score_mean"),
            func.count(Review.id).label("reviews"),
            (func.max(Review.score) - func.min(Review.score)).label("spread"),
        )
        .where(counted())
        .group_by(Review.application_id)
        .subquery()
    )


@dataclass
class QueueEntry:
    application: Application
    reviews: int


def queue(rnd: Round, organizer: Organizer) -> list[QueueEntry]:
    """The applications of the round (submitted or waitlisted) the organizer has not reviewed
    (nor declared a conflict for), fewest reviews first, then oldest first."""
    stats = review_stats_subquery()
    mine = select(Review.application_id).where(Review.organizer_id == organizer.id)
    rows = db.session.execute(
        select(Application, func.coalesce(stats.c.reviews, 0))
        .outerjoin(stats, stats.c.application_id == Application.id)
        .where(
            Application.round_id == rnd.id,
            Application.status.in_(lifecycle.values(REVIEWABLE)),
            Application.id.not_in(mine),
        )
        .order_by(func.coalesce(stats.c.reviews, 0), Application.id)
    ).all()
    return [QueueEntry(a, n) for a, n in rows]


def own_review(application: Application, organizer: Organizer) -> Review | None:
    return db.session.scalar(
        select(Review).where(
            and_(Review.application_id == application.id, Review.organizer_id == organizer.id)
        )
    )


def others_reviews(application: Application, organizer: Organizer) -> list[Review]:
    """The other reviewers' reviews that count. Call only for a reviewer who has submitted
    their own (see :func:`may_see_scores`)."""
    return list(
        db.session.scalars(
            select(Review)
            .where(
                Review.application_id == application.id,
                Review.organizer_id != organizer.id,
                counted(),
            )
            .order_by(Review.id)
        )
    )


def may_see_scores(own: Review | None) -> bool:
    """Others' scores only after one's own review; never with a conflict of interest."""
    return own is not None and not own.conflict


def submit_review(
    application: Application,
    organizer: Organizer,
    scores: list[int],
    note: str,
    conflict: bool,
) -> Review:
    """Store (or replace) the organizer's review of an application and record it in the
    history. With ``conflict``, scores and note are dropped: the review does not count."""
    # Lock the application's row: the same reviewer sending the form twice at once (a double
    # click) replaces one review instead of inserting two.
    lock_row(Application, application.id)
    criteria = criteria_of(application.round)
    if not conflict:
        if len(scores) != len(criteria) or any(not 1 <= s <= 5 for s in scores):
            raise ValueError("one score from 1 to 5 per criterion")
    review = own_review(application, organizer)
    first = review is None
    if review is None:
        review = Review(application_id=application.id, organizer_id=organizer.id)
        db.session.add(review)
    review.conflict = conflict
    review.scores = [] if conflict else list(scores)
    review.score = None if conflict or not scores else round(mean(scores), 4)
    review.note = "" if conflict else note
    status = Status(application.status)
    if conflict:
        text = "Befangenheit erklärt: bewertet diese Bewerbung nicht"
    else:
        text = "Bewertung abgegeben" if first else "Bewertung geändert"
    lifecycle.record(
        application, status, Actor.ORGANIZER, text, organizer.email, from_status=status
    )
    db.session.flush()
    return review


# --- blind review ------------------------------------------------------------------------------

#: Words of an organisation's name too common to hide on their own.
_GENERIC = {
    "stadt",
    "gemeinde",
    "markt",
    "landkreis",
    "kreis",
    "verwaltung",
    "amt",
    "verband",
    "verein",
    "der",
    "die",
    "das",
    "und",
    "city",
    "town",
    "of",
}
MASK = "[…]"


def is_blind(rnd: Round) -> bool:
    """Blind review hides who applied from the review pages until decisions are staged."""
    return bool(rnd.blind_review) and rnd.review_revealed_at is None


def identifying_terms(application: Application) -> list[str]:
    """What would name the person: first and last name, the address and its parts, the
    organisation and the distinctive words of its name; longest first."""
    terms = {application.first_name, application.last_name, application.email, application.phone}
    terms.add(application.organisation)
    local, _at, domain = application.email.partition("@")
    terms.update({local, domain})
    terms.update(re.split(r"[.\-_+]", local))
    terms.update(domain.split(".")[:-1])
    for word in re.split(r"[\s,;/()]+", application.organisation):
        if word.casefold() not in _GENERIC:
            terms.add(word)
    for part in re.split(r"[\s\-]+", f"{application.first_name} {application.last_name}"):
        terms.add(part)
    return sorted((t for t in terms if t and len(t) >= 3), key=len, reverse=True)


def mask(text: str, application: Application) -> str:
    """The free text with every mention of the person's name, address or organisation replaced
    by ``[…]`` (case-insensitive, also inside longer words such as "Beispielhausener")."""
    terms = identifying_terms(application)
    if not terms or not text:
        return text
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    return pattern.sub(MASK, text)
