"""The waitlist: positions 1..n in the order of waitlisting, promotion in that order (skipping
whoever a limit blocks, who keeps the place), moves, and the invariants under any sequence of
decisions and applicants' actions (hypothesis)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from forum.db import utcnow
from forum.extensions import db
from registration import admission, lifecycle, waitlist
from registration.admission import DecisionOutcome
from registration.models import Actor, Application, Status
from tests.helpers.database import empty_tables

DO = DecisionOutcome


def _positions(round_id: int) -> list[tuple[int, int]]:
    """(position, id) of the waitlist in order."""
    return [(a.waitlist_position, a.id) for a in waitlist.entries(round_id)]


def _fill(rnd, make_application, write, n, **kw):
    apps = [make_application(rnd, **kw) for _ in range(n)]
    for a in apps:
        write(admission.decide, a, "admit")
    return apps


def test_positions_follow_the_order_of_waitlisting(make_round, make_application, write):
    rnd = make_round(seats=1)
    apps = _fill(rnd, make_application, write, 4)
    assert _positions(rnd.id) == [(1, apps[1].id), (2, apps[2].id), (3, apps[3].id)]


def test_leaving_closes_the_gap(make_round, make_application, write):
    rnd = make_round(seats=1)
    apps = _fill(rnd, make_application, write, 5)
    write(admission.withdraw, apps[2])  # position 2
    assert _positions(rnd.id) == [(1, apps[1].id), (2, apps[3].id), (3, apps[4].id)]
    write(admission.decide, apps[3], "reject")
    assert _positions(rnd.id) == [(1, apps[1].id), (2, apps[4].id)]


def test_a_freed_seat_goes_to_the_first_that_fits(make_round, make_application, write):
    rnd = make_round(seats=2, max_per_state=1)
    by = make_application(rnd, state="DE-BY")
    bw = make_application(rnd, state="DE-BW")
    write(admission.decide, by, "admit")
    write(admission.decide, bw, "admit")
    by2 = make_application(rnd, state="DE-BY")
    bw2 = make_application(rnd, state="DE-BW")
    write(admission.decide, by2, "waitlist")
    write(admission.decide, bw2, "waitlist")
    result = write(admission.decline_offer, bw)
    assert [p.id for p in result.promoted] == [bw2.id]  # by2 is first but Bavaria is full
    assert _positions(rnd.id) == [(1, by2.id)]
    skipped = db.session.get(Application, by2.id).events[-1]
    assert skipped.reason.startswith("Beim Nachrücken übersprungen")
    promoted = db.session.get(Application, bw2.id)
    assert promoted.status == Status.OFFERED and promoted.offer_deadline is not None


def test_no_promotion_without_auto_promote(make_round, make_application, write):
    rnd = make_round(seats=1, auto_promote=False)
    first, second = _fill(rnd, make_application, write, 2)
    assert write(admission.withdraw, first).promoted == []
    assert _positions(rnd.id) == [(1, second.id)]


def test_moves_shift_the_entries_between(make_round, make_application, write):
    rnd = make_round(seats=1)
    apps = _fill(rnd, make_application, write, 6)  # 5 on the waitlist
    ids = [a.id for a in apps[1:]]
    result = write(admission.move_on_waitlist, apps[5], 2, None, "Vorrang")
    assert (result.outcome, result.position) == (DO.MOVED, 2)
    assert [i for _p, i in _positions(rnd.id)] == [ids[0], ids[4], ids[1], ids[2], ids[3]]
    result = write(admission.move_on_waitlist, apps[1], 99, None, "nach hinten")  # clamped
    assert (result.outcome, result.position) == (DO.MOVED, 5)
    assert [i for _p, i in _positions(rnd.id)] == [ids[4], ids[1], ids[2], ids[3], ids[0]]
    same = write(admission.move_on_waitlist, apps[1], 5, None, "nochmal")
    assert (same.outcome, same.position) == (DO.UNCHANGED, 5)
    refused = write(admission.move_on_waitlist, apps[0], 1, None, "hält einen Platz")
    assert refused.outcome == DO.REFUSED


def test_lapse_promotes(make_round, make_application, write):
    rnd = make_round(seats=1, offer_hours=1)
    first, second = _fill(rnd, make_application, write, 2)
    assert admission.lapse_expired_offers(utcnow() + timedelta(hours=2)) == 1
    assert db.session.get(Application, first.id).status == Status.LAPSED
    assert db.session.get(Application, second.id).status == Status.OFFERED
    assert _positions(rnd.id) == []


# --- invariants under any sequence --------------------------------------------------------------

STATES = ("DE-BY", "DE-BW")
ORGANISATIONS = ("Stadt A", "Stadt B", "Stadt C")
STEPS = st.lists(
    st.tuples(
        st.sampled_from(["admit", "waitlist", "reject", "accept", "decline", "withdraw"]),
        st.sampled_from(["revoke", "move", "lapse", "none"]),
        st.integers(0, 5),  # whom
        st.integers(1, 6),  # where to (move); whose seat (revoke)
    ),
    max_size=15,
)


def _check_invariants(rnd) -> None:
    apps = list(
        db.session.scalars(
            select(Application)
            .where(Application.round_id == rnd.id)
            .execution_options(populate_existing=True)
        )
    )
    held = [a for a in apps if a.status in lifecycle.HOLDING]
    assert len(held) <= rnd.seats
    assert max(Counter(a.state for a in held).values(), default=0) <= rnd.max_per_state
    organisations = Counter(a.organisation_normalized for a in held)
    assert max(organisations.values(), default=0) <= rnd.max_per_organisation
    positions = sorted(a.waitlist_position for a in apps if a.status == Status.WAITLISTED)
    assert positions == list(range(1, len(positions) + 1))
    for a in apps:
        assert (a.waitlist_position is not None) == (a.status == Status.WAITLISTED), a
        assert (a.offer_deadline is not None) == (a.status == Status.OFFERED), a
        # the history tells the same story: each change one allowed transition
        changes = [e for e in a.events if e.from_status != e.to_status]
        assert changes[-1].to_status == a.status
        for event in changes[1:]:
            assert lifecycle.rule(event.from_status, event.to_status) is not None, event
            assert Actor(event.actor) in lifecycle.rule(event.from_status, event.to_status).actors


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_invariants_hold_after_any_steps(app, make_round, make_application, write, steps):
    empty_tables()
    rnd = make_round(seats=3, max_per_state=2, max_per_organisation=1, offer_hours=1)
    apps = [
        make_application(rnd, state=STATES[i % 2], organisation=ORGANISATIONS[i % 3])
        for i in range(6)
    ]
    later = utcnow() + timedelta(hours=2)
    for first, second, who, where in steps:
        application = db.session.get(Application, apps[who].id)
        if first in ("admit", "waitlist", "reject"):
            write(admission.decide, application, first, None, "")
        elif first == "accept":
            write(admission.accept_offer, application)
        elif first == "decline":
            write(admission.decline_offer, application)
        else:
            write(admission.withdraw, application)
        if second == "revoke":
            write(admission.revoke, db.session.get(Application, apps[where - 1].id), None, "x")
        elif second == "move":
            write(admission.move_on_waitlist, application, where, None, "x")
        elif second == "lapse":
            admission.lapse_expired_offers(later)
        _check_invariants(rnd)
