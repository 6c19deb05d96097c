"""The ranking and the proposal, as plain functions over plain values (no database), so that
they can be tested on their own.

Ranking: by mean score (highest first), then by the number of reviews (more first), then by
the application's id (earlier first). Applications without a review come last.

Proposal: walk the ranking and give each candidate a seat while the round has seats free and
the candidate breaks no limit (``max_per_state``, ``max_per_organisation``); those skipped go
on the waitlist in ranking order. Seats already held count against every limit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Candidate:
    id: int
    state: str
    organisation: str  # normalised
    mean: float | None  # None: not reviewed yet
    reviews: int = 0


@dataclass(frozen=True)
class Limits:
    seats: int
    max_per_state: int | None = None
    max_per_organisation: int | None = None


@dataclass
class Held:
    """Seats held (or proposed) so far: in total, per state, per organisation."""

    total: int = 0
    by_state: Counter = field(default_factory=Counter)
    by_organisation: Counter = field(default_factory=Counter)

    def add(self, state: str, organisation: str) -> None:
        self.total += 1
        self.by_state[state] += 1
        self.by_organisation[organisation] += 1

    def blocking(self, limits: Limits, state: str, organisation: str) -> str | None:
        """The first limit a further seat for (state, organisation) would break, or None."""
        if self.total >= limits.seats:
            return "seats"
        if limits.max_per_state is not None and self.by_state[state] >= limits.max_per_state:
            return "state"
        if (
            limits.max_per_organisation is not None
            and self.by_organisation[organisation] >= limits.max_per_organisation
        ):
            return "organisation"
        return None


def rank_key(candidate: Candidate) -> tuple:
    reviewed = candidate.mean is not None
    return (not reviewed, -(candidate.mean or 0.0), -candidate.reviews, candidate.id)


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=rank_key)


@dataclass(frozen=True)
class Proposal:
    admit: list[int]  # in ranking order
    waitlist: list[int]  # in ranking order
    skipped: dict[int, str]  # id -> the limit that kept a candidate from a free seat


def propose(candidates: Sequence[Candidate], limits: Limits, held: Held) -> Proposal:
    """Fill the free seats from the top of the ranking, skipping whoever breaks a limit; the
    rest go on the waitlist in ranking order. ``held`` is not changed."""
    counts = Held(held.total, Counter(held.by_state), Counter(held.by_organisation))
    admit: list[int] = []
    waitlist: list[int] = []
    skipped: dict[int, str] = {}
    for c in rank(candidates):
        limit = counts.blocking(limits, c.state, c.organisation)
        if limit is None:
            counts.add(c.state, c.organisation)
            admit.append(c.id)
        else:
            if limit != "seats":
                skipped[c.id] = limit
            waitlist.append(c.id)
    return Proposal(admit, waitlist, skipped)


# --- target mix ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """``at least`` / ``at most`` ``count`` seats for one code (a state, role or body type)."""

    code: str
    op: str  # ">=" or "<="
    count: int

    def met(self, actual: int) -> bool:
        return actual >= self.count if self.op == ">=" else actual <= self.count


def parse_targets(text: str, codes: Iterable[str]) -> tuple[list[Target], list[str]]:
    """Lines such as ``DE-BY >= 8`` or ``mayor <= 10``; returns the targets and, for lines
    that are not understood, error texts naming the line."""
    known = set(codes)
    targets: list[Target] = []
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        for op in (">=", "<="):
            if op in line:
                code, _sep, count = (part.strip() for part in line.partition(op))
                break
        else:
            errors.append(f"{number}: {line}")
            continue
        if code not in known or not count.isdigit() or int(count) > 10_000:
            errors.append(f"{number}: {line}")
            continue
        targets.append(Target(code, op, int(count)))
    return targets, errors
