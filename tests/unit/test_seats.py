"""Seats and limits: what counts as held, the limit a new seat would exceed (seats, per state,
per organisation), and that admitting never goes past any of them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.extensions import db
from registration import admission
from registration.admission import DecisionOutcome, Limit
from registration.models import Application, Status

DO = DecisionOutcome


def test_held_counts_offered_and_accepted_only(make_round, make_application, write):
    rnd = make_round(seats=5)
    people = [make_application(rnd, state=s) for s in ("DE-BY", "DE-BY", "DE-BW", "DE-BW")]
    write(admission.decide, people[0], "admit")
    write(admission.decide, people[1], "admit")
    write(admission.accept_offer, people[1])
    write(admission.decide, people[2], "waitlist")
    write(admission.decide, people[3], "reject")
    counts = admission.held_counts(rnd.id)
    assert counts.held == 2
    assert counts.by_state == {"DE-BY": 2}
    assert sum(counts.by_organisation.values()) == 2


@pytest.mark.parametrize(
    ("limits", "people", "blocked"),
    [
        # seats: the third of two seats
        ({"seats": 2}, [("DE-BY", "A"), ("DE-BW", "B"), ("DE-BY", "C")], Limit.SEATS),
        # per state: two Bavarians, the third waits although seats are free
        ({"max_per_state": 2}, [("DE-BY", "A"), ("DE-BY", "B"), ("DE-BY", "C")], Limit.STATE),
        # per organisation: the same organisation (normalised) a second time
        (
            {"max_per_organisation": 1},
            [("DE-BY", "Stadt Ansbach"), ("DE-BW", "Ulm"), ("DE-BW", " stadt  ANSBACH ")],
            Limit.ORGANISATION,
        ),
    ],
)
def test_the_limit_that_blocks(make_round, make_application, write, limits, people, blocked):
    rnd = make_round(**limits)
    apps = [make_application(rnd, state=s, organisation=o) for s, o in people]
    for a in apps[:-1]:
        assert write(admission.decide, a, "admit").outcome == DO.OFFERED
    last = apps[-1]
    assert admission.blocking_limit(rnd, last, admission.held_counts(rnd.id)) == blocked
    result = write(admission.decide, last, "admit")
    assert (result.outcome, result.limit, result.position) == (DO.WAITLISTED, blocked, 1)
    assert db.session.get(Application, last.id).status == Status.WAITLISTED


def test_a_private_person_stands_for_no_organisation(make_round, make_application, write):
    rnd = make_round(max_per_organisation=1)
    first = make_application(rnd, body_type="private", organisation="Ansbach")
    second = make_application(rnd, body_type="private", organisation="Ansbach")
    assert write(admission.decide, first, "admit").outcome == DO.OFFERED
    assert write(admission.decide, second, "admit").outcome == DO.OFFERED
    assert admission.held_counts(rnd.id).by_organisation == {}


def test_limits_per_state_and_organisation_together(make_round, make_application, write):
    rnd = make_round(seats=4, max_per_state=2, max_per_organisation=1)
    plan = [
        ("DE-BY", "Stadt A", DO.OFFERED),
        ("DE-BY", "Stadt A", DO.WAITLISTED),  # organisation
        ("DE-BY", "Stadt B", DO.OFFERED),
        ("DE-BY", "Stadt C", DO.WAITLISTED),  # state
        ("DE-BW", "Stadt D", DO.OFFERED),
        ("DE-BW", "Stadt E", DO.OFFERED),
        ("DE-BW", "Stadt F", DO.WAITLISTED),  # seats
    ]
    apps = [make_application(rnd, state=s, organisation=o) for s, o, _ in plan]
    results = write(admission.decide_many, rnd, apps, "admit")
    assert [r.outcome for r in results] == [want for *_, want in plan]
    assert [r.limit for r in results if r.limit] == [
        Limit.ORGANISATION,
        Limit.STATE,
        Limit.SEATS,
    ]
    held = db.session.scalars(
        select(Application.state).where(Application.status.in_(["offered", "accepted"]))
    ).all()
    assert len(held) == 4 and held.count("DE-BY") == 2


def test_admit_on_a_waitlisted_application_keeps_its_place_when_full(
    make_round, make_application, write
):
    rnd = make_round(seats=1)
    first, second = make_application(rnd), make_application(rnd)
    write(admission.decide, first, "admit")
    write(admission.decide, second, "waitlist")
    result = write(admission.decide, second, "admit")
    assert (result.outcome, result.limit, result.position) == (DO.REFUSED, Limit.SEATS, 1)
    assert db.session.get(Application, second.id).waitlist_position == 1


def test_decisions_outside_the_table_are_refused_and_change_nothing(
    make_round, make_application, write
):
    rnd = make_round()
    application = make_application(rnd)
    write(admission.decide, application, "reject")
    for action in ("admit", "waitlist", "reject"):
        result = write(admission.decide, application, action)
        assert (result.outcome, result.status) == (DO.REFUSED, Status.REJECTED)
    assert len(db.session.get(Application, application.id).events) == 3  # start, confirm, reject
    with pytest.raises(ValueError):
        admission.decide(application, "accept")  # an applicant's action, not a decision
