"""The ranking and the proposal on their own (registration/selection/ranking.py): ties,
limits, and invariants checked with hypothesis over many generated fields."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from registration.selection.ranking import (
    Candidate,
    Held,
    Limits,
    parse_targets,
    propose,
    rank,
)


def c(id_, mean, reviews=2, state="DE-BY", organisation=None):
    return Candidate(id_, state, organisation or f"org{id_}", mean, reviews)


def test_rank_orders_by_mean_then_reviews_then_id_and_unreviewed_last():
    candidates = [
        c(1, None, 0),
        c(2, 3.0, 1),
        c(3, 4.0, 2),
        c(4, 3.0, 3),  # tie on 3.0: more reviews first
        c(5, 3.0, 3),  # full tie: the earlier id first
        c(6, 4.5, 1),
    ]
    assert [x.id for x in rank(candidates)] == [6, 3, 4, 5, 2, 1]


def test_propose_skips_whoever_breaks_a_limit_and_waitlists_in_ranking_order():
    candidates = [
        c(1, 5.0, organisation="x"),
        c(2, 4.9, organisation="x"),  # organisation limit 1
        c(3, 4.8),
        c(4, 4.7),  # Bavaria: limit 2 (1 and 3)
        c(5, 4.0, state="DE-BW"),
        c(6, 3.0, state="DE-BW"),
        c(7, 2.0, state="DE-BW"),  # no seat left
    ]
    result = propose(candidates, Limits(4, 2, 1), Held())
    assert result.admit == [1, 3, 5, 6]
    assert result.waitlist == [2, 4, 7]
    assert result.skipped == {2: "organisation", 4: "state"}


def test_seats_already_held_count_against_every_limit():
    held = Held()
    held.add("DE-BY", "x")
    held.add("DE-BY", "y")
    result = propose(
        [c(1, 5.0, organisation="x"), c(2, 4.0), c(3, 3.0, state="DE-BW")],
        Limits(3, 2, 1),
        held,
    )
    assert result.admit == [3] and result.waitlist == [1, 2]
    assert held.total == 2  # not changed


def test_a_full_round_waitlists_everyone():
    held = Held()
    for n in range(3):
        held.add("DE-BW", f"o{n}")
    result = propose([c(1, 5.0), c(2, None, 0)], Limits(3), held)
    assert result.admit == [] and result.waitlist == [1, 2] and result.skipped == {}


def test_parse_targets():
    targets, errors = parse_targets(
        "DE-BY >= 8\n\n mayor<=10 \nDE-XX >= 1\nDE-BW = 3\nDE-BW >= viele",
        {"DE-BY", "mayor", "DE-BW"},
    )
    assert [(t.code, t.op, t.count) for t in targets] == [("DE-BY", ">=", 8), ("mayor", "<=", 10)]
    assert [e.split(":")[0] for e in errors] == ["4", "5", "6"]
    assert targets[0].met(8) and not targets[0].met(7)
    assert targets[1].met(10) and not targets[1].met(11)


STATES = ["DE-BY", "DE-BW", "DE-HE"]
candidate = st.tuples(
    st.one_of(st.none(), st.sampled_from([1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0])),
    st.integers(1, 3),
    st.sampled_from(STATES),
    st.sampled_from(["a", "b", "c", "d", "e"]),
)


@settings(max_examples=300, deadline=None)
@given(
    raw=st.lists(candidate, max_size=30),
    seats=st.integers(1, 12),
    max_state=st.one_of(st.none(), st.integers(1, 6)),
    max_org=st.one_of(st.none(), st.integers(1, 3)),
    held_raw=st.lists(st.tuples(st.sampled_from(STATES), st.sampled_from("abcde")), max_size=5),
)
def test_proposal_invariants(raw, seats, max_state, max_org, held_raw):
    candidates = [
        Candidate(n, state, org, mean, reviews if mean is not None else 0)
        for n, (mean, reviews, state, org) in enumerate(raw, start=1)
    ]
    limits = Limits(seats, max_state, max_org)
    held = Held()
    for state, org in held_raw:
        held.add(state, org)
    result = propose(candidates, limits, held)
    ranked = [x.id for x in rank(candidates)]
    by_id = {x.id: x for x in candidates}

    # Everyone is placed exactly once, each list in ranking order.
    assert sorted(result.admit + result.waitlist) == sorted(ranked)
    assert result.admit == [i for i in ranked if i in set(result.admit)]
    assert result.waitlist == [i for i in ranked if i in set(result.waitlist)]

    # No limit is exceeded beyond what was already held.
    states = Counter(held.by_state) + Counter(by_id[i].state for i in result.admit)
    orgs = Counter(held.by_organisation) + Counter(by_id[i].organisation for i in result.admit)
    assert held.total + len(result.admit) <= max(seats, held.total)
    if max_state is not None:
        for state, n in states.items():
            assert n <= max(max_state, held.by_state[state])
    if max_org is not None:
        for org, n in orgs.items():
            assert n <= max(max_org, held.by_organisation[org])

    # Nobody waitlisted could have had a seat at their turn: walking the ranking again, each
    # waitlisted candidate breaks a limit given the admissions ranked above them.
    counts = Held(held.total, Counter(held.by_state), Counter(held.by_organisation))
    admitted = set(result.admit)
    for i in ranked:
        x = by_id[i]
        if i in admitted:
            counts.add(x.state, x.organisation)
        else:
            assert counts.blocking(limits, x.state, x.organisation) is not None
