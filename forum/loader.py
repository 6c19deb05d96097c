"""``flask forum load FILE.toml``: create or update a forum and its rounds from a file.

The file is validated completely before anything is written; an error names the key (and the
round) and nothing changes. Loading is idempotent by slugs: the forum by its slug, rounds by
theirs; meetings of a loaded round are replaced by the file's list when they differ.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .codes import BODY_TYPES, ROLES, STATES
from .db import utcnow
from .extensions import db
from .models import AdmissionMode, Forum, Meeting, Round

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ForumFileError(ValueError):
    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True)
class Field:
    kind: str  # str, text, int, bool, datetime, codes, labels
    required: bool = False
    max_length: int | None = None
    choices: dict | None = None
    minimum: int | None = None
    maximum: int | None = None


FORUM_FIELDS = {
    "slug": Field("slug", required=True, max_length=80),
    "title": Field("str", required=True, max_length=200),
    "summary": Field("str", max_length=500),
    "description": Field("text", max_length=20_000),
    "contact_name": Field("str", max_length=200),
    "contact_email": Field("str", max_length=254),
}

ROUND_FIELDS = {
    "slug": Field("slug", required=True, max_length=80),
    "title": Field("str", required=True, max_length=200),
    "description": Field("text", max_length=20_000),
    "seats": Field("int", required=True, minimum=1, maximum=10_000),
    "opens": Field("datetime", required=True),
    "closes": Field("datetime", required=True),
    "admission": Field("choice", choices={m.value: m for m in AdmissionMode}),
    "auto_promote": Field("bool"),
    "offer_hours": Field("int", minimum=1, maximum=24 * 90),
    "confirm_hours": Field("int", minimum=1, maximum=24 * 30),
    "states": Field("codes", required=True, choices=STATES),
    "roles": Field("codes", required=True, choices=ROLES),
    "body_types": Field("codes", required=True, choices=BODY_TYPES),
    "max_per_state": Field("int", minimum=1, maximum=10_000),
    "max_per_organisation": Field("int", minimum=1, maximum=10_000),
    # Selection (issue 9): criteria scored 1-5 by reviewers, reviews wanted, blind review.
    "review_criteria": Field("labels", max_length=100, maximum=12),
    "reviewers_per_application": Field("int", minimum=1, maximum=20),
    "blind_review": Field("bool"),
    "invitation_only": Field("bool"),
    "invitation_reminder_days": Field("int", minimum=1, maximum=365),
    "meetings": Field("meetings"),
}

MEETING_FIELDS = {
    "title": Field("str", required=True, max_length=200),
    "starts": Field("datetime", required=True),
    "ends": Field("datetime", required=True),
    "venue": Field("str", required=True, max_length=200),
    "address": Field("str", max_length=300),
}

ROUND_DEFAULTS = {
    "description": "",
    "admission": "review",
    "auto_promote": True,
    "offer_hours": 168,
    "confirm_hours": 48,
    "max_per_state": None,
    "max_per_organisation": None,
    "review_criteria": [],
    "reviewers_per_application": 2,
    "blind_review": False,
    "invitation_only": False,
    "invitation_reminder_days": 7,
    "meetings": [],
}


def _check(where: str, key: str, field: Field, value: Any) -> Any:
    at = f"{where}.{key}"
    if field.kind in ("str", "text", "slug"):
        if not isinstance(value, str):
            raise ForumFileError(at, f"expected a string, got {type(value).__name__}")
        if any(ord(ch) < 32 and ch not in "\n\t" or ch == "\x7f" for ch in value):
            raise ForumFileError(at, "contains a control character")
        value = value.strip() if field.kind != "text" else value
        if field.required and not value:
            raise ForumFileError(at, "must not be empty")
        if field.max_length and len(value) > field.max_length:
            raise ForumFileError(at, f"longer than {field.max_length} characters")
        if field.kind == "slug" and not SLUG_RE.match(value):
            raise ForumFileError(at, "use lowercase letters, digits and single hyphens only")
        return value
    if field.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ForumFileError(at, f"expected a whole number, got {value!r}")
        if field.minimum is not None and value < field.minimum:
            raise ForumFileError(at, f"must be at least {field.minimum}")
        if field.maximum is not None and value > field.maximum:
            raise ForumFileError(at, f"must be at most {field.maximum}")
        return value
    if field.kind == "bool":
        if not isinstance(value, bool):
            raise ForumFileError(at, f"expected true or false, got {value!r}")
        return value
    if field.kind == "datetime":
        if not isinstance(value, datetime):
            raise ForumFileError(at, "expected a date and time such as 2027-03-10T10:00:00+01:00")
        if value.tzinfo is None:
            raise ForumFileError(at, "needs a UTC offset, e.g. 2027-03-10T10:00:00+01:00")
        return value
    if field.kind == "choice":
        if not isinstance(value, str) or value not in field.choices:
            allowed = ", ".join(f'"{c}"' for c in field.choices)
            raise ForumFileError(at, f"unknown value {value!r}; allowed: {allowed}")
        return value
    if field.kind == "codes":
        if not isinstance(value, list) or not value:
            raise ForumFileError(at, "expected a non-empty list of codes")
        for code in value:
            if not isinstance(code, str) or code not in field.choices:
                allowed = ", ".join(field.choices)
                raise ForumFileError(at, f"unknown code {code!r}; allowed: {allowed}")
        if len(set(value)) != len(value):
            raise ForumFileError(at, "lists a code twice")
        return list(value)
    if field.kind == "labels":
        # A list of short names (e.g. review criteria); may be empty; no duplicates.
        if not isinstance(value, list):
            raise ForumFileError(at, 'expected a list of strings, e.g. ["Motivation"]')
        if field.maximum is not None and len(value) > field.maximum:
            raise ForumFileError(at, f"at most {field.maximum} entries")
        names = [
            _check(f"{where}.{key}", str(i), Field("str", True, field.max_length), v)
            for i, v in enumerate(value, start=1)
        ]
        if len({n.casefold() for n in names}) != len(names):
            raise ForumFileError(at, "lists a name twice")
        return names
    raise AssertionError(field.kind)


def _table(where: str, data: Any, fields: dict[str, Field]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ForumFileError(where, "expected a table")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ForumFileError(f"{where}.{unknown[0]}", "unknown key")
    out: dict[str, Any] = {}
    for key, field in fields.items():
        if key not in data:
            if field.required:
                raise ForumFileError(f"{where}.{key}", "missing")
            continue
        if field.kind == "meetings":
            continue
        out[key] = _check(where, key, field, data[key])
    return out


def parse_forum_file(text: str) -> tuple[dict, list[dict]]:
    """Validate a forum file; returns the forum's values and a list of rounds' values."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ForumFileError("file", f"not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"forum", "rounds"})
    if unknown:
        raise ForumFileError(unknown[0], "unknown key (expected [forum] and [[rounds]])")
    if "forum" not in data:
        raise ForumFileError("forum", "missing")
    forum = _table("forum", data["forum"], FORUM_FIELDS)
    rounds_data = data.get("rounds", [])
    if not isinstance(rounds_data, list):
        raise ForumFileError("rounds", "expected [[rounds]] tables")
    rounds: list[dict] = []
    seen: set[str] = set()
    for index, raw in enumerate(rounds_data, start=1):
        slug = raw.get("slug") if isinstance(raw, dict) else None
        where = f"rounds[{index}]" + (f" ({slug})" if isinstance(slug, str) else "")
        values = {**ROUND_DEFAULTS, **_table(where, raw, ROUND_FIELDS)}
        if values["slug"] in seen:
            raise ForumFileError(f"{where}.slug", "used by another round in this file")
        seen.add(values["slug"])
        if values["closes"] <= values["opens"]:
            raise ForumFileError(f"{where}.closes", "must be after opens")
        meetings_raw = raw.get("meetings", [])
        if not isinstance(meetings_raw, list):
            raise ForumFileError(f"{where}.meetings", "expected [[rounds.meetings]] tables")
        meetings = []
        for m_index, m_raw in enumerate(meetings_raw, start=1):
            m_where = f"{where}.meetings[{m_index}]"
            meeting = _table(m_where, m_raw, MEETING_FIELDS)
            meeting.setdefault("address", "")
            if meeting["ends"] <= meeting["starts"]:
                raise ForumFileError(f"{m_where}.ends", "must be after starts")
            meetings.append(meeting)
        values["meetings"] = meetings
        for limit in ("max_per_state", "max_per_organisation"):
            if values[limit] is not None and values[limit] > values["seats"]:
                raise ForumFileError(f"{where}.{limit}", "must not exceed seats")
        rounds.append(values)
    return forum, rounds


@dataclass
class LoadResult:
    forum: Forum
    created: list[str]
    updated: list[str]
    unchanged: list[str]


def _assign(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _meeting_key(m: dict) -> tuple:
    return (m["title"], m["starts"], m["ends"], m["venue"], m["address"])


def load_forum(text: str) -> LoadResult:
    """Validate and apply a forum file in the current transaction (the caller commits)."""
    forum_values, rounds = parse_forum_file(text)
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []

    forum = db.session.scalar(select(Forum).where(Forum.slug == forum_values["slug"]))
    if forum is None:
        forum = Forum(**{"summary": "", "description": "", **forum_values})
        db.session.add(forum)
        created.append(f"forum {forum.slug}")
    elif _assign(forum, forum_values):
        updated.append(f"forum {forum.slug}")
    else:
        unchanged.append(f"forum {forum.slug}")
    db.session.flush()

    for values in rounds:
        meetings = values.pop("meetings")
        rnd = db.session.scalar(select(Round).where(Round.slug == values["slug"]))
        if rnd is not None and rnd.forum_id != forum.id:
            raise ForumFileError(
                f"rounds ({values['slug']}).slug", "already belongs to another forum"
            )
        if rnd is None:
            rnd = Round(forum=forum, **values)
            db.session.add(rnd)
            changed, was_new = True, True
        else:
            changed, was_new = _assign(rnd, values), False
        current = [
            _meeting_key(
                {
                    "title": m.title,
                    "starts": m.starts,
                    "ends": m.ends,
                    "venue": m.venue,
                    "address": m.address,
                }
            )
            for m in rnd.meetings
        ]
        if current != [_meeting_key(m) for m in meetings]:
            rnd.meetings.clear()
            db.session.flush()
            for position, m in enumerate(meetings):
                rnd.meetings.append(Meeting(position=position, **m))
            changed = True
        if was_new:
            created.append(f"round {rnd.slug}")
        elif changed:
            rnd.updated_at = utcnow()
            updated.append(f"round {rnd.slug}")
        else:
            unchanged.append(f"round {rnd.slug}")
    db.session.flush()
    return LoadResult(forum=forum, created=created, updated=updated, unchanged=unchanged)


def load_forum_file(path: str | Path) -> LoadResult:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ForumFileError(str(path), f"cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ForumFileError(str(path), "is not UTF-8 text") from None
    return load_forum(text)
