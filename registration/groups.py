"""Groups within a round (issue 13): collegial consultation groups, focus groups.

Organizers create groups and assign seat holders (``offered``, ``accepted``) by hand, or let the
service propose an assignment (:func:`propose`, a pure function) that spreads states, roles and
organisation types evenly across groups of a chosen size. :func:`group_recipients` gives the
people of one group, for a message to that group.

Writes take the round's lock first, so that two organizers proposing or assigning at once are
serialized; a unique index keeps every application in at most one group. Functions here never
commit (the caller does)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from math import ceil

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from forum.extensions import db
from forum.models import Round

from .admission import lock_round
from .lifecycle import HOLDING, values
from .models import Application, GroupMember, RoundGroup

MAX_GROUPS = 100


@dataclass(frozen=True)
class Member:
    """What the proposal looks at: one person's id and attributes."""

    id: int
    state: str
    role: str
    body_type: str


def propose(members: list[Member], size: int) -> list[list[int]]:
    """Split ``members`` into groups of at most ``size`` people (sizes differ by at most one),
    spreading states, then roles, then organisation types as evenly as possible.

    1. Deal the people out in turn, sorted by state (then role, organisation type): every
       state is a run of the deal, so each group gets the same number of a state, give or take
       one, and group sizes differ by at most one. Both are guaranteed.
    2. Improve roles and organisation types by swapping two people of the same state between
       groups while that lowers the imbalance (sum of squared counts per group, roles weighted
       above organisation types); a swap changes neither state counts nor sizes.

    Deterministic: the same people give the same groups."""
    if size < 1:
        raise ValueError("size must be at least 1")
    if not members:
        return []
    count = ceil(len(members) / size)
    state_n = Counter(m.state for m in members)
    ordered = sorted(members, key=lambda m: (-state_n[m.state], m.state, m.role, m.body_type, m.id))
    groups: list[list[Member]] = [[] for _ in range(count)]
    for index, member in enumerate(ordered):
        groups[index % count].append(member)

    weights = {"role": 1000, "body_type": 1}
    tallies = {
        attribute: [Counter(getattr(m, attribute) for m in g) for g in groups]
        for attribute in weights
    }

    def gain(attribute: str, a: str, b: str, g1: int, g2: int) -> int:
        """Lowering of the sum of squares when one ``a`` moves g1->g2 and one ``b`` g2->g1."""
        if a == b:
            return 0
        t1, t2 = tallies[attribute][g1], tallies[attribute][g2]
        before = t1[a] ** 2 + t1[b] ** 2 + t2[a] ** 2 + t2[b] ** 2
        after = (t1[a] - 1) ** 2 + (t1[b] + 1) ** 2 + (t2[a] + 1) ** 2 + (t2[b] - 1) ** 2
        return before - after

    for _ in range(50):  # passes; each improving swap lowers a bounded cost, so this ends
        improved = False
        for g1 in range(count):
            for g2 in range(g1 + 1, count):
                for i, x in enumerate(groups[g1]):
                    for j, y in enumerate(groups[g2]):
                        if x.state != y.state:
                            continue
                        total = sum(
                            w * gain(attr, getattr(x, attr), getattr(y, attr), g1, g2)
                            for attr, w in weights.items()
                        )
                        if total <= 0:
                            continue
                        groups[g1][i], groups[g2][j] = y, x
                        for attr in weights:
                            tallies[attr][g1][getattr(x, attr)] -= 1
                            tallies[attr][g1][getattr(y, attr)] += 1
                            tallies[attr][g2][getattr(y, attr)] -= 1
                            tallies[attr][g2][getattr(x, attr)] += 1
                        x = y
                        improved = True
        if not improved:
            break
    return [sorted(m.id for m in group) for group in groups]


# --- reading -----------------------------------------------------------------------------------


def seat_holders(rnd: Round) -> list[Application]:
    return list(
        db.session.scalars(
            select(Application)
            .where(
                Application.round_id == rnd.id,
                Application.status.in_(values(HOLDING)),
            )
            .order_by(Application.last_name, Application.first_name, Application.id)
        )
    )


def groups_of(rnd: Round) -> list[RoundGroup]:
    return list(
        db.session.scalars(
            select(RoundGroup).where(RoundGroup.round_id == rnd.id).order_by(RoundGroup.id)
        )
    )


def membership(rnd: Round) -> dict[int, RoundGroup]:
    """Application id -> its group, for the round."""
    rows = db.session.execute(
        select(GroupMember.application_id, RoundGroup)
        .join(RoundGroup, RoundGroup.id == GroupMember.group_id)
        .where(RoundGroup.round_id == rnd.id)
    )
    return {application_id: group for application_id, group in rows}


def group_recipients(group_id: int) -> list[Application]:
    """The people of one group who hold a seat (``offered`` or ``accepted``): the audience of a
    message to that group (for the messages to participants of a round)."""
    return list(
        db.session.scalars(
            select(Application)
            .join(GroupMember, GroupMember.application_id == Application.id)
            .where(
                GroupMember.group_id == group_id,
                Application.status.in_(values(HOLDING)),
            )
            .order_by(Application.id)
        )
    )


# --- writing -----------------------------------------------------------------------------------


class GroupError(ValueError):
    """A clear reason why nothing changed."""


def create_group(rnd: Round, name: str) -> RoundGroup:
    name = " ".join(name.split())
    lock_round(rnd.id)
    if not name:
        raise GroupError("empty")
    existing = groups_of(rnd)
    if len(existing) >= MAX_GROUPS:
        raise GroupError("too_many")
    if any(g.name.casefold() == name.casefold() for g in existing):
        raise GroupError("exists")
    group = RoundGroup(round_id=rnd.id, name=name[:100])
    db.session.add(group)
    db.session.flush()
    return group


def delete_group(rnd: Round, group_id: int) -> bool:
    lock_round(rnd.id)
    group = db.session.get(RoundGroup, group_id)
    if group is None or group.round_id != rnd.id:
        return False
    db.session.delete(group)
    db.session.flush()
    return True


def assign(rnd: Round, assignment: dict[int, int | None]) -> int:
    """Put seat holders into groups by hand: application id -> group id (None: no group).
    Ids that are not seat holders or groups of this round are refused (GroupError); returns
    how many people changed group."""
    lock_round(rnd.id)
    holders = {a.id for a in seat_holders(rnd)}
    group_ids = {g.id for g in groups_of(rnd)}
    for application_id, group_id in assignment.items():
        if application_id not in holders:
            raise GroupError("not_holder")
        if group_id is not None and group_id not in group_ids:
            raise GroupError("no_group")
    current = membership(rnd)
    changed = 0
    for application_id, group_id in assignment.items():
        before = current.get(application_id)
        if (before.id if before else None) == group_id:
            continue
        db.session.execute(delete(GroupMember).where(GroupMember.application_id == application_id))
        if group_id is not None:
            db.session.add(GroupMember(group_id=group_id, application_id=application_id))
        changed += 1
    try:
        db.session.flush()
    except IntegrityError:
        raise GroupError("conflict") from None
    return changed


def apply_proposal(rnd: Round, size: int) -> list[RoundGroup]:
    """Propose groups of at most ``size`` for all seat holders and put it in place: the round's
    memberships are replaced; groups "Gruppe 1" … are created as needed (existing groups are
    used first, in their order); groups left empty stay."""
    lock_round(rnd.id)
    holders = seat_holders(rnd)
    plan = propose([Member(a.id, a.state, a.role, a.body_type) for a in holders], size)
    groups = groups_of(rnd)
    names = {g.name for g in groups}
    number = 1
    while len(groups) < len(plan):
        while f"Gruppe {number}" in names:
            number += 1
        group = RoundGroup(round_id=rnd.id, name=f"Gruppe {number}")
        names.add(group.name)
        db.session.add(group)
        groups.append(group)
    db.session.flush()
    # Every membership in the round's groups goes: the seat holders get new ones, and people
    # who no longer hold a seat are in no group.
    db.session.execute(delete(GroupMember).where(GroupMember.group_id.in_([g.id for g in groups])))
    for group, ids in zip(groups, plan, strict=False):
        for application_id in ids:
            db.session.add(GroupMember(group_id=group.id, application_id=application_id))
    db.session.flush()
    return groups[: len(plan)]
