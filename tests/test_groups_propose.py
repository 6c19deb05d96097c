"""The proposal that spreads states, roles and organisation types across groups (issue 13),
tested directly."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from registration.groups import Member, propose


def spread(groups, members, attribute) -> int:
    """The largest difference, over all values of the attribute, between the group with the
    most and the group with the fewest people of that value."""
    by_id = {m.id: m for m in members}
    worst = 0
    for value in {getattr(m, attribute) for m in members}:
        counts = [sum(1 for i in g if getattr(by_id[i], attribute) == value) for g in groups]
        worst = max(worst, max(counts) - min(counts))
    return worst


def test_twelve_people_in_groups_of_four():
    states = ["DE-BY"] * 6 + ["DE-BW"] * 6
    roles = ["mayor", "deputy", "head_of_office"] * 4
    bodies = ["city", "municipality", "district", "municipality"] * 3
    rows = zip(states, roles, bodies, strict=True)
    members = [Member(i, s, r, b) for i, (s, r, b) in enumerate(rows)]
    groups = propose(members, 4)
    assert [len(g) for g in groups] == [4, 4, 4]
    assert sorted(i for g in groups for i in g) == list(range(12))
    assert spread(groups, members, "state") == 0  # 2 + 2 in every group
    assert spread(groups, members, "role") <= 1
    assert spread(groups, members, "body_type") <= 1


def test_sizes_as_equal_as_possible_and_never_above_size():
    members = [Member(i, "DE-BY", "mayor", "city") for i in range(10)]
    assert [len(g) for g in propose(members, 4)] == [4, 3, 3]
    assert [len(g) for g in propose(members, 10)] == [10]
    assert [len(g) for g in propose(members, 1)] == [1] * 10
    assert propose([], 4) == []
    with pytest.raises(ValueError):
        propose(members, 0)


def test_a_state_is_not_clustered_even_when_sorted_input_would_cluster_it():
    # Three states of unequal size, roles tied to states (the worst case for naive chunking).
    members = [Member(i, "DE-BY", "mayor", "city") for i in range(9)]
    members += [Member(100 + i, "DE-BW", "deputy", "district") for i in range(6)]
    members += [Member(200 + i, "DE-TH", "volunteer", "association") for i in range(3)]
    groups = propose(members, 6)
    assert [len(g) for g in groups] == [6, 6, 6]
    for g in groups:
        states = Counter(("BY" if i < 100 else "BW" if i < 200 else "TH") for i in g)
        assert states == {"BY": 3, "BW": 2, "TH": 1}


@pytest.mark.parametrize("seed", range(25))
def test_random_rounds_spread_states_within_one(seed):
    rng = random.Random(seed)
    n = rng.randint(5, 60)
    size = rng.randint(2, 9)
    members = [
        Member(
            i,
            rng.choice(["DE-BY", "DE-BW", "DE-BY", "DE-TH", "DE-SN"]),
            rng.choice(["mayor", "deputy", "citizen", "volunteer", "mayor"]),
            rng.choice(["city", "municipality", "association", "private"]),
        )
        for i in range(n)
    ]
    groups = propose(members, size)
    assert sorted(i for g in groups for i in g) == list(range(n))
    assert max(len(g) for g in groups) <= size
    assert max(len(g) for g in groups) - min(len(g) for g in groups) <= 1
    assert spread(groups, members, "state") <= 1
    assert spread(groups, members, "role") <= 2
    assert spread(groups, members, "body_type") <= 2


@pytest.mark.serial  # measures time
def test_large_round_is_quick():
    import time

    rng = random.Random(1)
    members = [
        Member(i, rng.choice(["DE-BY", "DE-BW"]), rng.choice(["mayor", "deputy"]), "city")
        for i in range(400)
    ]
    started = time.monotonic()
    groups = propose(members, 8)
    assert time.monotonic() - started < 10
    assert spread(groups, members, "state") <= 1
