"""Staged decisions: prepared one by one or by the proposal, visible to every organizer of the
forum, changing no status and sending no mail until an organizer releases them.

Everything here takes the round's lock first (:func:`registration.admission.lock_round`) and
reads the staged decisions after it, so a release and a change of the staged decisions never
interleave, and two organizers releasing at the same moment release once: the second finds
nothing left to release. The functions record history and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, func, select

from forum.db import utcnow
from forum.extensions import db
from forum.models import Organizer, Round

from .. import admission, lifecycle
from ..lifecycle import HOLDING, values
from ..models import Actor, Application, Status
from . import ranking
from .models import StagedDecision
from .reviews import REVIEWABLE, review_stats_subquery

ACTIONS = ("admit", "waitlist", "reject")
#: How staged actions read in the history (German: the history is a record).
ACTION_TEXT = {"admit": "zulassen", "waitlist": "Warteliste", "reject": "absagen"}


@dataclass
class Row:
    """One application on the selection page."""

    application: Application
    mean: float | None
    reviews: int
    spread: float | None
    staged: StagedDecision | None = None
    rank: int = 0

    @property
    def candidate(self) -> ranking.Candidate:
        a = self.application
        return ranking.Candidate(
            a.id,
            a.state,
            a.organisation_normalized,
            None if self.mean is None else float(self.mean),
            self.reviews,
        )


def rows(rnd: Round, ids: list[int] | None = None, fresh: bool = False) -> list[Row]:
    """The round's applications that can be decided (submitted, waitlisted) with their review
    figures and staged decision, in ranking order."""
    stats = review_stats_subquery()
    stmt = (
        select(Application, stats.c.score_mean, func.coalesce(stats.c.reviews, 0), stats.c.spread)
        .outerjoin(stats, stats.c.application_id == Application.id)
        .where(
            Application.round_id == rnd.id,
            Application.status.in_([s.value for s in REVIEWABLE]),
        )
    )
    if ids is not None:
        stmt = stmt.where(Application.id.in_(ids))
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    result = [Row(a, m, n, s) for a, m, n, s in db.session.execute(stmt)]
    staged = {
        d.application_id: d
        for d in db.session.scalars(
            select(StagedDecision)
            .where(StagedDecision.round_id == rnd.id)
            .execution_options(populate_existing=fresh)
        )
    }
    for row in result:
        row.staged = staged.get(row.application.id)
    by_id = {row.application.id: row for row in result}
    ordered = [by_id[c.id] for c in ranking.rank(row.candidate for row in result)]
    for position, row in enumerate(ordered, start=1):
        row.rank = position
    return ordered


def held(rnd: Round) -> ranking.Held:
    counts = admission.held_counts(rnd.id)
    return ranking.Held(counts.held, counts.by_state, counts.by_organisation)


def limits(rnd: Round) -> ranking.Limits:
    return ranking.Limits(rnd.seats, rnd.max_per_state, rnd.max_per_organisation)


def _label(organizer: Organizer | None) -> str:
    return organizer.email if organizer is not None else ""


def _reveal(rnd: Round) -> None:
    if rnd.review_revealed_at is None:
        rnd.review_revealed_at = utcnow()


def _note(application: Application, organizer: Organizer | None, text: str) -> None:
    status = Status(application.status)
    lifecycle.record(
        application, status, Actor.ORGANIZER, text, _label(organizer), from_status=status
    )


class StagingError(ValueError):
    """The application cannot be staged (it is no longer submitted or waitlisted)."""


def stage(
    application: Application,
    action: str | None,
    message: str,
    organizer: Organizer | None,
) -> StagedDecision | None:
    """Stage ``action`` (admit, waitlist, reject) with an optional message for one application,
    replacing what was staged; ``None`` removes the staged decision. Records it in the
    history. Raises :class:`StagingError` for applications that cannot be decided."""
    rnd = admission.lock_round(application.round_id)
    db.session.refresh(application)
    if application.status not in REVIEWABLE:
        raise StagingError(application.status)
    current = db.session.scalar(
        select(StagedDecision).where(StagedDecision.application_id == application.id)
    )
    if action is None:
        if current is not None:
            db.session.delete(current)
            _note(application, organizer, "Vorgemerkte Entscheidung entfernt")
        return None
    if action not in ACTIONS:
        raise ValueError(action)
    if current is not None and current.action == action and current.message == message:
        return current
    if current is None:
        current = StagedDecision(round_id=rnd.id, application_id=application.id)
        db.session.add(current)
    current.action = action
    current.message = message
    current.organizer_id = organizer.id if organizer is not None else None
    current.staged_at = utcnow()
    _reveal(rnd)
    text = f"Entscheidung vorgemerkt: {ACTION_TEXT[action]}"
    _note(application, organizer, text + (f" – Nachricht: {message}" if message else ""))
    db.session.flush()
    return current


@dataclass
class ProposalResult:
    admit: int
    waitlist: int
    skipped: dict[int, str] = field(default_factory=dict)


def propose(rnd: Round, organizer: Organizer | None) -> ProposalResult:
    """Stage decisions from the ranking: the free seats go to the top candidates who break no
    limit, the rest onto the waitlist in ranking order. Replaces every staged admit and
    waitlist decision of the round; staged rejections stay (and those candidates are left
    out of the proposal)."""
    rnd = admission.lock_round(rnd.id)
    current = rows(rnd, fresh=True)
    candidates = [r for r in current if not (r.staged and r.staged.action == "reject")]
    proposal = ranking.propose([r.candidate for r in candidates], limits(rnd), held(rnd))
    by_id = {r.application.id: r for r in candidates}
    now = utcnow()
    for action, ids in (("admit", proposal.admit), ("waitlist", proposal.waitlist)):
        for application_id in ids:
            row = by_id[application_id]
            staged = row.staged
            if staged is not None and staged.action == action:
                continue
            if staged is None:
                staged = StagedDecision(round_id=rnd.id, application_id=application_id)
                db.session.add(staged)
            staged.action = action
            staged.message = ""
            staged.organizer_id = organizer.id if organizer is not None else None
            staged.staged_at = now
            text = f"Vorschlag vorgemerkt: {ACTION_TEXT[action]} (Rang {row.rank})"
            if application_id in proposal.skipped:
                text += f", übersprungen wegen {_limit_word(proposal.skipped[application_id])}"
            _note(row.application, organizer, text)
    _reveal(rnd)
    db.session.flush()
    return ProposalResult(len(proposal.admit), len(proposal.waitlist), proposal.skipped)


def _limit_word(limit: str) -> str:
    return {"state": "Höchstzahl je Bundesland", "organisation": "Höchstzahl je Organisation"}.get(
        limit, limit
    )


@dataclass
class ReleaseResult:
    results: list[admission.Result]

    @property
    def count(self) -> int:
        return len(self.results)


def release(rnd: Round, organizer: Organizer | None) -> ReleaseResult:
    """Apply every staged decision of the round in one transaction under the round's lock, in
    ranking order, through :func:`registration.admission.decide_each` (seats and limits hold
    exactly as if decided one by one; the mails are queued there), then delete them. A second
    release finds nothing left."""
    rnd = admission.lock_round(rnd.id)
    staged = list(
        db.session.scalars(
            select(StagedDecision)
            .where(StagedDecision.round_id == rnd.id)
            .execution_options(populate_existing=True)
        )
    )
    if not staged:
        return ReleaseResult([])
    by_application = {d.application_id: d for d in staged}
    ordered = rows(rnd, ids=list(by_application), fresh=True)
    decisions = []
    for row in ordered:
        decision = by_application[row.application.id]
        _note(
            row.application,
            organizer,
            f"Vorgemerkte Entscheidung freigegeben: {ACTION_TEXT[decision.action]}",
        )
        decisions.append((row.application, decision.action, decision.message))
    results = admission.decide_each(rnd, decisions, organizer)
    # Staged decisions of applications that left submitted/waitlisted meanwhile go too.
    db.session.execute(delete(StagedDecision).where(StagedDecision.round_id == rnd.id))
    db.session.flush()
    return ReleaseResult(results)


def mix(rnd: Round, rows_: list[Row]) -> dict[str, dict[str, int]]:
    """The group as it stands: held seats plus staged admissions, by state, role, body type."""
    out: dict[str, dict[str, int]] = {"state": {}, "role": {}, "body_type": {}}
    held_rows = db.session.execute(
        select(Application.state, Application.role, Application.body_type, func.count())
        .where(
            Application.round_id == rnd.id,
            Application.status.in_(values(HOLDING)),
        )
        .group_by(Application.state, Application.role, Application.body_type)
    )
    entries = [(s, r, b, n) for s, r, b, n in held_rows]
    entries += [
        (row.application.state, row.application.role, row.application.body_type, 1)
        for row in rows_
        if row.staged is not None and row.staged.action == "admit"
    ]
    for state, role, body_type, n in entries:
        for key, code in (("state", state), ("role", role), ("body_type", body_type)):
            out[key][code] = out[key].get(code, 0) + n
    return out
