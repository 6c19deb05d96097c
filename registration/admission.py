"""Seats, limits, offers and promotion from the waitlist.

Every function here that checks capacity or changes the waitlist first takes the round's lock
(:func:`lock_round`: ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the write transaction
already holds the database's write lock since ``BEGIN IMMEDIATE``) and re-reads the
applications it acts on, so that two organizers admitting at the same moment see each other's
seats. The functions change state, record history and queue mail; they never commit.

Seats held = ``offered`` + ``accepted``. Three limits: the round's seats, ``max_per_state``
(held seats per state) and ``max_per_organisation`` (held seats per normalised organisation).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from forum.codes import PRIVATE, STATES, label
from forum.db import lock_row, utcnow
from forum.extensions import db
from forum.models import AdmissionMode, Organizer, Round

from . import eligibility, lifecycle, notifications, waitlist
from .models import HOLDING, Actor, Application, Status

S = Status


class Limit(StrEnum):
    SEATS = "seats"
    STATE = "state"
    ORGANISATION = "organisation"


class Action(StrEnum):
    ADMIT = "admit"
    WAITLIST = "waitlist"
    REJECT = "reject"


class Outcome(StrEnum):
    OFFERED = "offered"
    WAITLISTED = "waitlisted"  # admit could not give a seat: put on the waitlist instead
    REJECTED = "rejected"
    REVOKED = "revoked"
    MOVED = "moved"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"
    UNCHANGED = "unchanged"  # nothing to do (already in that state)
    REFUSED = "refused"  # not possible from the current status or because of a limit


@dataclass
class Result:
    application: Application
    outcome: Outcome
    message: str = ""  # for the organizer or applicant, in the current language
    promoted: list[Application] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.outcome not in (Outcome.UNCHANGED, Outcome.REFUSED)

    @property
    def category(self) -> str:
        if self.outcome == Outcome.REFUSED:
            return "error"
        if self.outcome == Outcome.WAITLISTED or self.outcome == Outcome.UNCHANGED:
            return "warning"
        return "success"


# --- locking and counting --------------------------------------------------------------------


def lock_round(round_id: int) -> Round:
    """Take the round's lock and bump its version (so concurrent writers serialize on this row
    on every database). Call before counting seats or touching the waitlist."""
    rnd = lock_row(Round, round_id)
    rnd.version = (rnd.version or 0) + 1
    return rnd


def _lock_for(application: Application) -> Round:
    """Lock the application's round, then read the application again."""
    rnd = lock_round(application.round_id)
    _reload([application])
    return rnd


def _reload(applications: Iterable[Application]) -> None:
    """Read the applications again after the lock: what was read before may be stale."""
    ids = [a.id for a in applications]
    if ids:
        list(
            db.session.scalars(
                select(Application)
                .where(Application.id.in_(ids))
                .execution_options(populate_existing=True)
            )
        )


@dataclass
class Counts:
    held: int = 0
    by_state: Counter = field(default_factory=Counter)
    by_organisation: Counter = field(default_factory=Counter)

    def add(self, application: Application) -> None:
        self.held += 1
        self.by_state[application.state] += 1
        if application.body_type != PRIVATE:
            self.by_organisation[application.organisation_normalized] += 1


def held_counts(round_id: int) -> Counts:
    """Held seats of a round, in total, per state and per organisation (one query)."""
    counts = Counts()
    rows = db.session.execute(
        select(
            Application.state,
            Application.organisation_normalized,
            Application.body_type,
            func.count(),
        )
        .where(
            Application.round_id == round_id,
            Application.status.in_([s.value for s in HOLDING]),
        )
        .group_by(Application.state, Application.organisation_normalized, Application.body_type)
    )
    for state, organisation, body_type, n in rows:
        counts.held += n
        counts.by_state[state] += n
        if body_type != PRIVATE:
            counts.by_organisation[organisation] += n
    return counts


def blocking_limit(rnd: Round, application: Application, counts: Counts) -> Limit | None:
    """The first limit that a new seat for ``application`` would exceed, or None."""
    if counts.held >= rnd.seats:
        return Limit.SEATS
    if rnd.max_per_state is not None and counts.by_state[application.state] >= rnd.max_per_state:
        return Limit.STATE
    if (
        rnd.max_per_organisation is not None
        # A private person stands for no organisation (what they enter is where they live).
        and application.body_type != PRIVATE
        and counts.by_organisation[application.organisation_normalized] >= rnd.max_per_organisation
    ):
        return Limit.ORGANISATION
    return None


def limit_text(limit: Limit, rnd: Round, application: Application) -> str:
    if limit == Limit.SEATS:
        return _("alle %(seats)d Plätze sind vergeben", seats=rnd.seats)
    if limit == Limit.STATE:
        return _(
            "das Kontingent für %(state)s (%(max)d Plätze) ist ausgeschöpft",
            state=label(STATES, application.state),
            max=rnd.max_per_state,
        )
    return _(
        "„%(organisation)s“ hat bereits die Höchstzahl von %(max)d Plätzen",
        organisation=application.organisation,
        max=rnd.max_per_organisation,
    )


def _record_text(limit: Limit, rnd: Round, application: Application) -> str:
    """The same, in German, for the history (a record, not a page)."""
    with force_locale("de"):
        return limit_text(limit, rnd, application)


def status_label(status: str) -> str:
    return {
        "pending_email": _("unbestätigt"),
        "submitted": _("eingegangen"),
        "waitlisted": _("Warteliste"),
        "offered": _("Platz angeboten"),
        "accepted": _("angenommen"),
        "rejected": _("abgelehnt"),
        "declined": _("Angebot ausgeschlagen"),
        "lapsed": _("Angebot verfallen"),
        "withdrawn": _("zurückgezogen"),
        "expired": _("nicht bestätigt"),
        "revoked": _("zurückgenommen"),
    }.get(status, status)


def _organizer_label(organizer: Organizer | None) -> str:
    return organizer.email if organizer is not None else ""


# --- primitives (the round is locked) --------------------------------------------------------


def _offer(
    application: Application,
    rnd: Round,
    actor: Actor,
    reason: str,
    actor_label: str = "",
    message: str = "",
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    old_position = application.waitlist_position
    lifecycle.transition(application, S.OFFERED, actor, reason, actor_label)
    application.offer_deadline = now + timedelta(hours=rnd.offer_hours)
    waitlist.close_gap(rnd.id, old_position)
    notifications.notify_offered(application, message)


def _put_on_waitlist(
    application: Application,
    rnd: Round,
    actor: Actor,
    reason: str,
    actor_label: str = "",
    message: str = "",
) -> None:
    lifecycle.transition(application, S.WAITLISTED, actor, reason, actor_label)
    application.waitlist_position = waitlist.next_position(rnd.id)
    db.session.flush()
    notifications.notify_waitlisted(application, message)


def _leave(
    application: Application,
    rnd: Round,
    to: Status,
    actor: Actor,
    reason: str,
    actor_label: str = "",
) -> bool:
    """Move to a final status; keeps the waitlist without gaps. True if a seat was freed."""
    was_holding = application.status in HOLDING
    old_position = application.waitlist_position
    lifecycle.transition(application, to, actor, reason, actor_label)
    waitlist.close_gap(rnd.id, old_position)
    return was_holding


def fill_free_seats(rnd: Round, now: datetime | None = None) -> list[Application]:
    """Offer free seats to the first waitlisted applications that fit the limits (when the
    round has ``auto_promote``). Those skipped because of a limit keep their place; their
    history says why. Returns the applications offered a seat."""
    if not rnd.auto_promote:
        return []
    counts = held_counts(rnd.id)
    if counts.held >= rnd.seats:
        return []
    promoted: list[Application] = []
    for application in waitlist.entries(rnd.id):
        if counts.held >= rnd.seats:
            break
        limit = blocking_limit(rnd, application, counts)
        if limit is not None:
            lifecycle.record(
                application,
                S.WAITLISTED,
                Actor.SYSTEM,
                "Beim Nachrücken übersprungen: " + _record_text(limit, rnd, application),
                from_status=S.WAITLISTED,
            )
            continue
        _offer(application, rnd, Actor.SYSTEM, "Von der Warteliste nachgerückt", now=now)
        counts.add(application)
        promoted.append(application)
    return promoted


# --- organizer decisions -----------------------------------------------------------------------


def _admit(
    application: Application,
    rnd: Round,
    counts: Counts,
    actor: Actor,
    actor_label: str,
    message: str,
) -> Result:
    """Offer a seat if the limits allow. Otherwise a submitted application goes on the
    waitlist, a waitlisted one (promotion by hand) keeps its place; the result says why."""
    status = application.status
    if status not in (S.SUBMITTED, S.WAITLISTED):
        return _refused(application, Action.ADMIT)
    limit = blocking_limit(rnd, application, counts)
    if limit is None:
        default = (
            "Zugelassen" if status == S.SUBMITTED else "Von Hand von der Warteliste nachgerückt"
        )
        _offer(application, rnd, actor, message or default, actor_label, message)
        counts.add(application)
        return Result(
            application,
            Outcome.OFFERED,
            _("%(name)s wurde ein Platz angeboten.", name=application.full_name),
        )
    if status == S.SUBMITTED:
        _put_on_waitlist(
            application,
            rnd,
            actor,
            "Zulassen nicht möglich, auf die Warteliste gesetzt: "
            + _record_text(limit, rnd, application),
            actor_label,
            message,
        )
        text = _(
            "Kein Platz für %(name)s: %(reason)s. "
            "Die Bewerbung steht jetzt auf Platz %(position)d der Warteliste.",
            name=application.full_name,
            reason=limit_text(limit, rnd, application),
            position=application.waitlist_position,
        )
        return Result(application, Outcome.WAITLISTED, text)
    text = _(
        "Kein Platz für %(name)s: %(reason)s. Die Bewerbung bleibt auf Platz "
        "%(position)d der Warteliste.",
        name=application.full_name,
        reason=limit_text(limit, rnd, application),
        position=application.waitlist_position,
    )
    return Result(application, Outcome.REFUSED, text)


def _refused(application: Application, action: Action) -> Result:
    verbs = {
        Action.ADMIT: _("zulassen"),
        Action.WAITLIST: _("auf die Warteliste setzen"),
        Action.REJECT: _("ablehnen"),
    }
    return Result(
        application,
        Outcome.REFUSED,
        _(
            "%(name)s: Eine Bewerbung im Status „%(status)s“ lässt sich nicht %(verb)s. "
            "Es wurde nichts geändert.",
            name=application.full_name,
            status=status_label(application.status),
            verb=verbs[action],
        ),
    )


def _decide_locked(
    application: Application,
    rnd: Round,
    action: Action,
    counts: Counts,
    organizer: Organizer | None,
    message: str,
) -> Result:
    who = _organizer_label(organizer)
    if action == Action.ADMIT:
        return _admit(application, rnd, counts, Actor.ORGANIZER, who, message)
    if action == Action.WAITLIST:
        if application.status == S.WAITLISTED:
            return Result(
                application,
                Outcome.UNCHANGED,
                _(
                    "%(name)s steht bereits auf Platz %(position)d der Warteliste.",
                    name=application.full_name,
                    position=application.waitlist_position,
                ),
            )
        if application.status != S.SUBMITTED:
            return _refused(application, action)
        _put_on_waitlist(
            application, rnd, Actor.ORGANIZER, message or "Auf die Warteliste gesetzt", who, message
        )
        return Result(
            application,
            Outcome.WAITLISTED,
            _(
                "%(name)s steht jetzt auf Platz %(position)d der Warteliste.",
                name=application.full_name,
                position=application.waitlist_position,
            ),
        )
    # reject
    if application.status not in (S.SUBMITTED, S.WAITLISTED):
        return _refused(application, action)
    _leave(application, rnd, S.REJECTED, Actor.ORGANIZER, message or "Abgelehnt", who)
    notifications.notify_rejected(application, message)
    return Result(
        application, Outcome.REJECTED, _("%(name)s wurde abgesagt.", name=application.full_name)
    )


def decide(
    application: Application,
    action: Action | str,
    organizer: Organizer | None = None,
    message: str = "",
) -> Result:
    """An organizer's decision on one application: ``admit`` (on a full round or limit: the
    waitlist instead, and the result says why; on a waitlisted application: promote it by
    hand if the limits allow), ``waitlist`` or ``reject``."""
    return decide_many(application.round, [application], action, organizer, message)[0]


def decide_many(
    rnd: Round,
    applications: list[Application],
    action: Action | str,
    organizer: Organizer | None = None,
    message: str = "",
) -> list[Result]:
    """The same decision on a selection of one round's applications, in the given order, under
    one lock."""
    action = Action(action)
    rnd = lock_round(rnd.id)
    _reload(applications)
    counts = held_counts(rnd.id)
    results = []
    for application in applications:
        if application.round_id != rnd.id:
            raise ValueError("application of another round")
        results.append(_decide_locked(application, rnd, action, counts, organizer, message))
    return results


def decide_each(
    rnd: Round,
    decisions: list[tuple[Application, Action | str, str]],
    organizer: Organizer | None = None,
) -> list[Result]:
    """Different decisions (each with its own message) on one round's applications, applied in
    the given order under one lock, exactly as if an organizer had made them one by one: seats
    and limits are counted after each. Used to release staged decisions."""
    rnd = lock_round(rnd.id)
    _reload([a for a, _action, _message in decisions])
    counts = held_counts(rnd.id)
    results = []
    for application, action, message in decisions:
        if application.round_id != rnd.id:
            raise ValueError("application of another round")
        results.append(_decide_locked(application, rnd, Action(action), counts, organizer, message))
    return results


def revoke(application: Application, organizer: Organizer | None, reason: str) -> Result:
    """An organizer takes back an offered or accepted seat; the seat goes to the waitlist."""
    rnd = _lock_for(application)
    if application.status not in HOLDING:
        return Result(
            application,
            Outcome.REFUSED,
            _(
                "Nur ein angebotener oder angenommener Platz lässt sich zurücknehmen "
                "(Status: „%(status)s“). Es wurde nichts geändert.",
                status=status_label(application.status),
            ),
        )
    _leave(
        application,
        rnd,
        S.REVOKED,
        Actor.ORGANIZER,
        reason or "Platz zurückgenommen",
        _organizer_label(organizer),
    )
    notifications.notify_revoked(application, reason)
    promoted = fill_free_seats(rnd)
    return Result(
        application,
        Outcome.REVOKED,
        _("Der Platz von %(name)s ist zurückgenommen.", name=application.full_name),
        promoted,
    )


def move_on_waitlist(
    application: Application, position: int, organizer: Organizer | None, reason: str
) -> Result:
    _lock_for(application)
    if application.status != S.WAITLISTED:
        return Result(
            application,
            Outcome.REFUSED,
            _("Die Bewerbung steht nicht auf der Warteliste. Es wurde nichts geändert."),
        )
    old, new = waitlist.move(application, position)
    if old == new:
        return Result(
            application,
            Outcome.UNCHANGED,
            _("Die Bewerbung steht bereits auf Platz %(position)d.", position=new),
        )
    lifecycle.record(
        application,
        S.WAITLISTED,
        Actor.ORGANIZER,
        f"Auf der Warteliste von Platz {old} auf Platz {new} verschoben: {reason}",
        _organizer_label(organizer),
        from_status=S.WAITLISTED,
    )
    return Result(
        application,
        Outcome.MOVED,
        _(
            "%(name)s steht jetzt auf Platz %(position)d der Warteliste.",
            name=application.full_name,
            position=new,
        ),
    )


# --- applicants --------------------------------------------------------------------------------


def admit_on_confirm(application: Application, rnd: Round) -> Result | None:
    """``first_come`` rounds: a confirmed, eligible application is offered a seat at once while
    seats are free, else waitlisted. The caller holds the round's lock. None: left for review
    (a review round, or the rules changed since the application was made)."""
    if rnd.admission != AdmissionMode.FIRST_COME or application.status != S.SUBMITTED:
        return None
    if eligibility.check(rnd, application.state, application.role, application.body_type):
        return None
    counts = held_counts(rnd.id)
    return _admit(application, rnd, counts, Actor.SYSTEM, "", "")


def _lapse(application: Application, rnd: Round) -> None:
    _leave(application, rnd, S.LAPSED, Actor.SYSTEM, "Frist für die Zusage verstrichen")
    notifications.notify_lapsed(application)


def accept_offer(application: Application, now: datetime | None = None) -> Result:
    now = now or utcnow()
    rnd = _lock_for(application)
    if application.status != S.OFFERED:
        return Result(application, Outcome.REFUSED)
    if application.offer_deadline is not None and application.offer_deadline < now:
        # Past the deadline: what the maintenance run would do, done now.
        _lapse(application, rnd)
        promoted = fill_free_seats(rnd, now)
        return Result(application, Outcome.LAPSED, promoted=promoted)
    lifecycle.transition(application, S.ACCEPTED, Actor.APPLICANT, "Platz angenommen")
    notifications.notify_accepted(application)
    return Result(application, Outcome.ACCEPTED)


def decline_offer(application: Application, now: datetime | None = None) -> Result:
    rnd = _lock_for(application)
    if application.status != S.OFFERED:
        return Result(application, Outcome.REFUSED)
    _leave(application, rnd, S.DECLINED, Actor.APPLICANT, "Platz abgelehnt")
    notifications.notify_declined(application)
    promoted = fill_free_seats(rnd, now)
    return Result(application, Outcome.DECLINED, promoted=promoted)


WITHDRAWABLE = (S.SUBMITTED, S.WAITLISTED, S.OFFERED, S.ACCEPTED)


def withdraw(application: Application, now: datetime | None = None) -> Result:
    rnd = _lock_for(application)
    if application.status not in WITHDRAWABLE:
        return Result(application, Outcome.REFUSED)
    freed = _leave(application, rnd, S.WITHDRAWN, Actor.APPLICANT, "Bewerbung zurückgezogen")
    notifications.notify_withdrawn(application)
    promoted = fill_free_seats(rnd, now) if freed else []
    return Result(application, Outcome.WITHDRAWN, promoted=promoted)


#: The reason in the history when an application leaves the lifecycle for an erasure.
ERASURE_REASON = "Löschung auf Wunsch"


def withdraw_for_erasure(application: Application, now: datetime | None = None) -> Result:
    """The person asked for their data to be erased: a live application (also an unconfirmed
    one) is withdrawn by the system, its seat or waitlist place is freed and goes to the
    waitlist as after any withdrawal. No mail to the person: their address is about to go."""
    rnd = _lock_for(application)
    if application.status not in (S.PENDING_EMAIL, *WITHDRAWABLE):
        return Result(application, Outcome.UNCHANGED)
    freed = _leave(application, rnd, S.WITHDRAWN, Actor.SYSTEM, ERASURE_REASON)
    promoted = fill_free_seats(rnd, now) if freed else []
    return Result(application, Outcome.WITHDRAWN, promoted=promoted)


# --- maintenance -------------------------------------------------------------------------------


def lapse_expired_offers(now: datetime | None = None) -> int:
    """Maintenance: offers past their deadline lapse, and their seats go to the waitlist.
    One transaction per round, so a round's lock is held briefly."""
    now = now or utcnow()
    round_ids = list(
        db.session.scalars(
            select(Application.round_id)
            .where(Application.status == S.OFFERED.value, Application.offer_deadline < now)
            .distinct()
        )
    )
    db.session.commit()
    count = 0
    for round_id in round_ids:
        rnd = lock_round(round_id)
        due = list(
            db.session.scalars(
                select(Application)
                .where(
                    Application.round_id == round_id,
                    Application.status == S.OFFERED.value,
                    Application.offer_deadline < now,
                )
                .order_by(Application.offer_deadline, Application.id)
                .execution_options(populate_existing=True)
            )
        )
        for application in due:
            _lapse(application, rnd)
            count += 1
        fill_free_seats(rnd, now)
        db.session.commit()
    return count
