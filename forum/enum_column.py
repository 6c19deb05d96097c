"""Status columns as Python enums, stored as the same VARCHAR as before (no migration)."""

from __future__ import annotations

import enum
from collections.abc import Callable

from sqlalchemy import Enum


def enum_column(enum_class: type[enum.Enum], length: int = 20) -> Enum:
    """A VARCHAR(``length``) column whose values are ``enum_class``'s values (not names); reads
    give the enum member, writes accept the member or its value and refuse anything else
    (``LookupError``). No CHECK constraint and no native type, so the schema stays as it was."""
    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        values_callable=lambda members: [m.value for m in members],
        length=length,
        validate_strings=True,
    )


def status_test(statuses: frozenset) -> Callable[[object], bool]:
    """The predicate "in this named set of statuses" over a row with a ``status``, a status, or
    its string value (a ``StrEnum`` member equals its value); anything else is not in it. For
    code, and for templates as a Jinja test (``{% if a is holding_seat %}``)."""

    def test(subject: object) -> bool:
        value = getattr(subject, "status", subject)
        try:
            return value in statuses
        except TypeError:  # unhashable: not a status
            return False

    return test
