"""Who may apply to a round: allowed states, roles and body types, checked on the server."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from forum.codes import BODY_TYPES, ROLES, STATES, is_open_format, label
from forum.models import Round, RoundFacts


@dataclass(frozen=True)
class Failure:
    rule: str  # "state", "role", "body_type"
    message: str


def _allowed(table: dict, codes: list[str]) -> str:
    return ", ".join(label(table, c) for c in codes)


def check(rnd: Round | RoundFacts, state: str, role: str, body_type: str) -> list[Failure]:
    failures: list[Failure] = []
    if rnd.states and state not in rnd.states:
        if is_open_format(rnd):
            message = _(
                "Diese Runde richtet sich an Teilnehmende aus %(allowed)s. "
                "%(given)s gehört nicht dazu.",
                allowed=_allowed(STATES, rnd.states),
                given=label(STATES, state),
            )
        else:
            message = _(
                "Diese Runde richtet sich an Kommunen aus %(allowed)s. "
                "%(given)s gehört nicht dazu.",
                allowed=_allowed(STATES, rnd.states),
                given=label(STATES, state),
            )
        failures.append(Failure("state", message))
    if rnd.roles and role not in rnd.roles:
        failures.append(
            Failure(
                "role",
                _(
                    "Diese Runde richtet sich an folgende Funktionen: %(allowed)s. "
                    "Die Funktion „%(given)s“ gehört nicht dazu.",
                    allowed=_allowed(ROLES, rnd.roles),
                    given=label(ROLES, role),
                ),
            )
        )
    if rnd.body_types and body_type not in rnd.body_types:
        failures.append(
            Failure(
                "body_type",
                _(
                    "Diese Runde richtet sich an: %(allowed)s. „%(given)s“ gehört nicht dazu.",
                    allowed=_allowed(BODY_TYPES, rnd.body_types),
                    given=label(BODY_TYPES, body_type),
                ),
            )
        )
    return failures
