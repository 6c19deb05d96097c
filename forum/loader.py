"""``flask forum load FILE.toml``: create or update a forum and its rounds from a file.

The file is validated completely before anything is written; an error names the key (and the
round) and nothing changes. Loading is idempotent by slugs: the forum by its slug, rounds by
theirs, meetings by their ``key`` within the round (default ``m1``, ``m2``, … by position).

One place for the rules: a round's values, from a file or from the organizer pages, go through
:func:`validate_round` (the form of each key) and :func:`apply_round` (the rules that need the
database: seats not below those held, meetings cancelled instead of deleted once anyone holds a
seat, seat holders told of moved and cancelled meetings, new seats offered to the waitlist).
:func:`export_forum` writes the file back from the same field lists.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import tomli_w
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from . import round_hooks
from .codes import BODY_TYPES, ROLES, STATES
from .db import lock_row, utcnow
from .extensions import db
from .models import AdmissionMode, Forum, Meeting, Round

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ForumFileError(ValueError):
    """A bad value, named by where it is (``rounds[1] (mkw-2027).seats``). The reason is a
    German source string (lazy): ``message`` gives it in the current language (the organizer
    pages), ``str(exc)`` as ``where: reason`` in English (the command line, as documented)."""

    def __init__(self, where: str, reason: Any):
        with force_locale("en"):
            english = str(reason)
        super().__init__(f"{where}: {english}")
        self.where = where
        self.reason = reason

    @property
    def message(self) -> str:
        return str(self.reason)


MISSING = _l("nicht angegeben")


@dataclass(frozen=True)
class Field:
    kind: str  # str, text, int, bool, datetime, codes, labels
    required: bool = False
    max_length: int | None = None
    choices: dict | None = None
    minimum: int | None = None
    maximum: int | None = None
    label: Any = None  # shown on the organizer pages (lazy gettext); None: the key


FORUM_FIELDS = {
    "slug": Field("slug", required=True, max_length=80, label=_l("Kurzname in Adressen (slug)")),
    "title": Field("str", required=True, max_length=200, label=_l("Titel")),
    "summary": Field("str", max_length=500, label=_l("Kurzbeschreibung")),
    "description": Field("text", max_length=20_000, label=_l("Beschreibung (Markdown)")),
    "contact_name": Field("str", max_length=200, label=_l("Ansprechperson")),
    "contact_email": Field("str", max_length=254, label=_l("E-Mail-Adresse für Rückfragen")),
}

ROUND_FIELDS = {
    "slug": Field("slug", required=True, max_length=80, label=_l("Kurzname in Adressen (slug)")),
    "title": Field("str", required=True, max_length=200, label=_l("Titel")),
    "description": Field("text", max_length=20_000, label=_l("Beschreibung (Markdown)")),
    "seats": Field("int", required=True, minimum=1, maximum=10_000, label=_l("Plätze")),
    "opens": Field("datetime", required=True, label=_l("Bewerbung ab (Uhrzeit in Berlin)")),
    "closes": Field("datetime", required=True, label=_l("Bewerbung bis (Uhrzeit in Berlin)")),
    "admission": Field(
        "choice", choices={m.value: m for m in AdmissionMode}, label=_l("Zulassung")
    ),
    "auto_promote": Field("bool", label=_l("Freie Plätze automatisch an die Warteliste")),
    "offer_hours": Field(
        "int", minimum=1, maximum=24 * 90, label=_l("Frist für Zusagen (Stunden)")
    ),
    "confirm_hours": Field(
        "int",
        minimum=1,
        maximum=24 * 30,
        label=_l("Frist für die Bestätigung der Adresse (Stunden)"),
    ),
    "states": Field("codes", required=True, choices=STATES, label=_l("Bundesländer")),
    "roles": Field("codes", required=True, choices=ROLES, label=_l("Funktionen")),
    "body_types": Field(
        "codes", required=True, choices=BODY_TYPES, label=_l("Art der Kommune / Organisation")
    ),
    "max_per_state": Field(
        "int", minimum=1, maximum=10_000, label=_l("Höchstens je Bundesland (leer: keine Grenze)")
    ),
    "max_per_organisation": Field(
        "int", minimum=1, maximum=10_000, label=_l("Höchstens je Organisation (leer: keine Grenze)")
    ),
    # Selection (issue 9): criteria scored 1-5 by reviewers, reviews wanted, blind review.
    "review_criteria": Field(
        "labels",
        max_length=100,
        maximum=12,
        label=_l("Kriterien der Bewertung, eines je Zeile (je 1 bis 5 Punkte)"),
    ),
    "reviewers_per_application": Field(
        "int", minimum=1, maximum=20, label=_l("Bewertungen je Bewerbung")
    ),
    "blind_review": Field(
        "bool", label=_l("Verdeckte Bewertung (Namen und Organisation erst nach der Vormerkung)")
    ),
    "invitation_only": Field("bool", label=_l("Nur auf Einladung")),
    "invitation_reminder_days": Field(
        "int", minimum=1, maximum=365, label=_l("Erinnerung an Eingeladene nach … Tagen")
    ),
    "reminder_days": Field(
        "days",
        minimum=1,
        maximum=365,
        label=_l("Erinnerungen, Tage vor jedem Treffen (z. B. 7, 1; leer: keine)"),
    ),
    "meetings": Field("meetings"),
}

MEETING_FIELDS = {
    "key": Field("slug", max_length=40, label=_l("Schlüssel")),
    "title": Field("str", required=True, max_length=200, label=_l("Titel")),
    "starts": Field("datetime", required=True, label=_l("Beginn (Berlin)")),
    "ends": Field("datetime", required=True, label=_l("Ende (Berlin)")),
    "venue": Field("str", required=True, max_length=200, label=_l("Ort")),
    "address": Field("str", max_length=300, label=_l("Adresse")),
    "cancelled": Field("bool", label=_l("abgesagt")),
    # Markdown; a file without them leaves what organizers wrote on the page as it is.
    "agenda": Field("text", max_length=20_000, label=_l("Tagesordnung (Markdown)")),
    "documentation": Field("text", max_length=20_000, label=_l("Dokumentation (Markdown)")),
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
    "reminder_days": [7, 1],
    "meetings": [],
}

MEETING_DEFAULTS = {"address": "", "cancelled": False}


def _check(where: str, key: str, field: Field, value: Any) -> Any:
    at = f"{where}.{key}"
    if field.kind in ("str", "text", "slug"):
        if not isinstance(value, str):
            raise ForumFileError(at, _l("erwartet Text, nicht %(kind)s", kind=type(value).__name__))
        if any(ord(ch) < 32 and ch not in "\n\t" or ch == "\x7f" for ch in value):
            raise ForumFileError(at, _l("enthält ein Steuerzeichen"))
        value = value.strip() if field.kind != "text" else value
        if field.required and not value:
            raise ForumFileError(at, _l("darf nicht leer sein"))
        if field.max_length and len(value) > field.max_length:
            raise ForumFileError(at, _l("länger als %(max)d Zeichen", max=field.max_length))
        if field.kind == "slug" and not SLUG_RE.match(value):
            raise ForumFileError(at, _l("nur Kleinbuchstaben, Ziffern und einzelne Bindestriche"))
        return value
    if field.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ForumFileError(
                at, _l("erwartet eine ganze Zahl, nicht %(value)s", value=repr(value))
            )
        if field.minimum is not None and value < field.minimum:
            raise ForumFileError(at, _l("muss mindestens %(min)d sein", min=field.minimum))
        if field.maximum is not None and value > field.maximum:
            raise ForumFileError(at, _l("darf höchstens %(max)d sein", max=field.maximum))
        return value
    if field.kind == "bool":
        if not isinstance(value, bool):
            raise ForumFileError(
                at, _l("erwartet true oder false, nicht %(value)s", value=repr(value))
            )
        return value
    if field.kind == "datetime":
        if not isinstance(value, datetime):
            raise ForumFileError(at, _l("erwartet Datum und Uhrzeit wie 2027-03-10T10:00:00+01:00"))
        if value.tzinfo is None:
            raise ForumFileError(
                at, _l("braucht den Abstand zu UTC, z. B. 2027-03-10T10:00:00+01:00")
            )
        return value
    if field.kind == "choice":
        assert field.choices is not None  # every "choice" field lists them
        if not isinstance(value, str) or value not in field.choices:
            allowed = ", ".join(f'"{c}"' for c in field.choices)
            raise ForumFileError(
                at,
                _l(
                    "unbekannter Wert %(value)s; erlaubt: %(allowed)s",
                    value=repr(value),
                    allowed=allowed,
                ),
            )
        return value
    if field.kind == "codes":
        assert field.choices is not None  # every "codes" field lists them
        if not isinstance(value, list) or not value:
            raise ForumFileError(at, _l("erwartet eine nicht leere Liste von Codes"))
        for code in value:
            if not isinstance(code, str) or code not in field.choices:
                allowed = ", ".join(field.choices)
                raise ForumFileError(
                    at,
                    _l(
                        "unbekannter Code %(code)s; erlaubt: %(allowed)s",
                        code=repr(code),
                        allowed=allowed,
                    ),
                )
        if len(set(value)) != len(value):
            raise ForumFileError(at, _l("nennt einen Code zweimal"))
        return list(value)
    if field.kind == "labels":
        # A list of short names (e.g. review criteria); may be empty; no duplicates.
        if not isinstance(value, list):
            raise ForumFileError(at, _l('erwartet eine Liste von Texten, z. B. ["Motivation"]'))
        if field.maximum is not None and len(value) > field.maximum:
            raise ForumFileError(at, _l("höchstens %(max)d Einträge", max=field.maximum))
        names = [
            _check(f"{where}.{key}", str(i), Field("str", True, field.max_length), v)
            for i, v in enumerate(value, start=1)
        ]
        if len({n.casefold() for n in names}) != len(names):
            raise ForumFileError(at, _l("nennt einen Namen zweimal"))
        return names
    if field.kind == "days":
        if not isinstance(value, list):
            raise ForumFileError(
                at, _l("erwartet eine Liste ganzer Zahlen von Tagen, z. B. [7, 1]")
            )
        assert field.minimum is not None and field.maximum is not None  # every "days" field
        for day in value:
            if isinstance(day, bool) or not isinstance(day, int):
                raise ForumFileError(
                    at, _l("erwartet ganze Zahlen von Tagen, nicht %(day)s", day=repr(day))
                )
            if not field.minimum <= day <= field.maximum:
                raise ForumFileError(
                    at,
                    _l(
                        "Tage müssen zwischen %(min)d und %(max)d liegen, nicht %(day)s",
                        min=field.minimum,
                        max=field.maximum,
                        day=day,
                    ),
                )
        if len(set(value)) != len(value):
            raise ForumFileError(at, _l("nennt einen Tag zweimal"))
        return list(value)
    raise AssertionError(field.kind)


def check_value(where: str, fields: dict[str, Field], key: str, value: Any) -> Any:
    """One key's value checked as in the forum file (for pages that edit single keys)."""
    return _check(where, key, fields[key], value)


def _table(where: str, data: Any, fields: dict[str, Field]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ForumFileError(where, _l("erwartet eine Tabelle"))
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ForumFileError(f"{where}.{unknown[0]}", _l("unbekannter Schlüssel"))
    out: dict[str, Any] = {}
    for key, field in fields.items():
        if key not in data:
            if field.required:
                raise ForumFileError(f"{where}.{key}", MISSING)
            continue
        if field.kind == "meetings":
            continue
        out[key] = _check(where, key, field, data[key])
    return out


def validate_forum(raw: Any) -> dict[str, Any]:
    """The forum's values from a file's ``[forum]`` table or the organizer form."""
    return _table("forum", raw, FORUM_FIELDS)


def validate_round(where: str, raw: Any) -> dict[str, Any]:
    """The values of one round (with its meetings) from a file's table or the organizer form,
    checked key by key; defaults filled in. Raises :class:`ForumFileError` naming the key."""
    values = {**ROUND_DEFAULTS, **_table(where, raw, ROUND_FIELDS)}
    if values["closes"] <= values["opens"]:
        raise ForumFileError(f"{where}.closes", _l("muss nach opens liegen"))
    meetings_raw = raw.get("meetings", [])
    if not isinstance(meetings_raw, list):
        raise ForumFileError(f"{where}.meetings", _l("erwartet [[rounds.meetings]]-Tabellen"))
    meetings = []
    keys: set[str] = set()
    for m_index, m_raw in enumerate(meetings_raw, start=1):
        m_where = f"{where}.meetings[{m_index}]"
        meeting = {**MEETING_DEFAULTS, **_table(m_where, m_raw, MEETING_FIELDS)}
        meeting.setdefault("key", f"m{m_index}")
        if meeting["key"] in keys:
            raise ForumFileError(
                f"{m_where}.key", _l("gehört schon einem anderen Treffen dieser Runde")
            )
        keys.add(meeting["key"])
        if meeting["ends"] <= meeting["starts"]:
            raise ForumFileError(f"{m_where}.ends", _l("muss nach starts liegen"))
        meetings.append(meeting)
    values["meetings"] = meetings
    for limit in ("max_per_state", "max_per_organisation"):
        if values[limit] is not None and values[limit] > values["seats"]:
            raise ForumFileError(f"{where}.{limit}", _l("darf nicht größer als seats sein"))
    return values


def parse_forum_file(text: str) -> tuple[dict, list[dict]]:
    """Validate a forum file; returns the forum's values and a list of rounds' values."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ForumFileError("file", _l("kein gültiges TOML: %(reason)s", reason=exc)) from None
    unknown = sorted(set(data) - {"forum", "rounds"})
    if unknown:
        raise ForumFileError(
            unknown[0], _l("unbekannter Schlüssel (erwartet: [forum] und [[rounds]])")
        )
    if "forum" not in data:
        raise ForumFileError("forum", MISSING)
    forum = validate_forum(data["forum"])
    rounds_data = data.get("rounds", [])
    if not isinstance(rounds_data, list):
        raise ForumFileError("rounds", _l("erwartet [[rounds]]-Tabellen"))
    rounds: list[dict] = []
    seen: set[str] = set()
    for index, raw in enumerate(rounds_data, start=1):
        slug = raw.get("slug") if isinstance(raw, dict) else None
        where = f"rounds[{index}]" + (f" ({slug})" if isinstance(slug, str) else "")
        values = validate_round(where, raw)
        if values["slug"] in seen:
            raise ForumFileError(
                f"{where}.slug", _l("gehört schon einer anderen Runde dieser Datei")
            )
        seen.add(values["slug"])
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


def _check_capacity(where: str, rnd: Round, values: dict[str, Any]) -> None:
    """Refuse seats or limits below what is held now (the caller holds the round's lock)."""
    held = round_hooks.held_seats(rnd.id)
    if values["seats"] < held.total:
        raise ForumFileError(
            f"{where}.seats",
            _l(
                "%(held)d Plätze sind vergeben (angeboten oder angenommen); seats kann nicht "
                "kleiner sein (zuerst Plätze zurückziehen oder zurücknehmen)",
                held=held.total,
            ),
        )
    for key, most, reason in (
        (
            "max_per_state",
            held.max_per_state,
            _l(
                "ein Land hält schon %(most)d Plätze; max_per_state kann nicht kleiner sein",
                most=held.max_per_state,
            ),
        ),
        (
            "max_per_organisation",
            held.max_per_organisation,
            _l(
                "eine Organisation hält schon %(most)d Plätze; max_per_organisation kann "
                "nicht kleiner sein",
                most=held.max_per_organisation,
            ),
        ),
    ):
        if values[key] is not None and values[key] < most:
            raise ForumFileError(f"{where}.{key}", reason)


def _capacity_grew(rnd: Round, values: dict[str, Any]) -> bool:
    def wider(old: int | None, new: int | None) -> bool:
        return old is not None and (new is None or new > old)

    return (
        values["seats"] > rnd.seats
        or wider(rnd.max_per_state, values["max_per_state"])
        or wider(rnd.max_per_organisation, values["max_per_organisation"])
        or (values["auto_promote"] and not rnd.auto_promote)
    )


#: Meeting fields a calendar shows: a change raises the event's SEQUENCE.
_CALENDAR_FIELDS = ("title", "starts", "ends", "venue", "address", "cancelled")


def _apply_meetings(
    rnd: Round, meetings: list[dict[str, Any]], seats_held: bool
) -> tuple[bool, list[round_hooks.MeetingChange]]:
    """Match the meetings by key: update, add, and delete or (once anyone holds a seat)
    cancel those no longer listed. Returns whether anything changed and what to tell."""
    existing = {m.key: m for m in rnd.meetings}
    changed = False
    changes: list[round_hooks.MeetingChange] = []
    for position, values in enumerate(meetings):
        meeting = existing.pop(values["key"], None)
        if meeting is None:
            rnd.meetings.append(Meeting(position=position, **values))
            changed = True
            continue
        before = {name: getattr(meeting, name) for name in _CALENDAR_FIELDS}
        old = round_hooks.snapshot(meeting)
        if _assign(meeting, {**values, "position": position}):
            changed = True
        if any(getattr(meeting, name) != before[name] for name in _CALENDAR_FIELDS):
            meeting.sequence = (meeting.sequence or 0) + 1
        moved = [n for n in round_hooks.NOTIFIED_FIELDS if getattr(meeting, n) != old[n]]
        if meeting.cancelled != before["cancelled"] or (moved and not meeting.cancelled):
            changes.append(
                round_hooks.MeetingChange(
                    meeting, old=old, changed=moved, cancelled=meeting.cancelled
                )
            )
    for meeting in existing.values():
        if not seats_held:
            rnd.meetings.remove(meeting)
            changed = True
        elif not meeting.cancelled:
            meeting.cancelled = True
            meeting.sequence = (meeting.sequence or 0) + 1
            changes.append(round_hooks.MeetingChange(meeting, cancelled=True))
            changed = True
    return changed, changes


@dataclass
class RoundOutcome:
    round: Round
    outcome: str  # created, updated, unchanged
    notified: int = 0  # mails queued to seat holders about meetings
    promoted: int = 0  # seats offered to the waitlist because capacity grew


def apply_round(forum: Forum, values: dict[str, Any], where: str) -> RoundOutcome:
    """Create or update one round from values checked by :func:`validate_round`, in the
    current transaction (the caller commits, or rolls back on :class:`ForumFileError`)."""
    values = dict(values)
    meetings = values.pop("meetings")
    rnd = db.session.scalar(select(Round).where(Round.slug == values["slug"]))
    if rnd is not None and rnd.forum_id != forum.id:
        raise ForumFileError(f"{where}.slug", _l("gehört schon zu einem anderen Forum"))
    if rnd is None:
        rnd = Round(forum=forum, **values)
        for position, meeting in enumerate(meetings):
            rnd.meetings.append(Meeting(position=position, **meeting))
        db.session.add(rnd)
        db.session.flush()
        return RoundOutcome(rnd, "created")

    # Under the round's lock, as every write that counts seats: an admission at the same
    # moment cannot slip between the check and the change.
    rnd = lock_row(Round, rnd.id)
    _check_capacity(where, rnd, values)
    grew = _capacity_grew(rnd, values)
    held = round_hooks.held_seats(rnd.id).total > 0
    changed = _assign(rnd, values)
    meetings_changed, changes = _apply_meetings(rnd, meetings, held)
    changed = changed or meetings_changed
    if not changed:
        return RoundOutcome(rnd, "unchanged")
    rnd.updated_at = utcnow()
    db.session.flush()
    outcome = RoundOutcome(rnd, "updated")
    outcome.notified = round_hooks.meetings_changed(rnd, changes)
    if grew:
        outcome.promoted = round_hooks.capacity_raised(rnd)
    db.session.flush()
    return outcome


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
        result = apply_round(forum, values, f"rounds ({values['slug']})")
        label = f"round {result.round.slug}"
        if result.notified:
            label += f" ({result.notified} mails about meetings)"
        if result.promoted:
            label += f" ({result.promoted} seats offered to the waitlist)"
        {"created": created, "updated": updated, "unchanged": unchanged}[result.outcome].append(
            label
        )
    db.session.flush()
    return LoadResult(forum=forum, created=created, updated=updated, unchanged=unchanged)


def load_forum_file(path: str | Path) -> LoadResult:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ForumFileError(
            str(path), _l("die Datei lässt sich nicht lesen: %(reason)s", reason=exc.strerror)
        ) from None
    except UnicodeDecodeError:
        raise ForumFileError(str(path), _l("ist kein UTF-8-Text")) from None
    return load_forum(text)


# --- export ----------------------------------------------------------------------------------


def _export_value(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(zone)
    return value


def _export_table(obj: Any, fields: dict[str, Field], zone: ZoneInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, field in fields.items():
        if field.kind == "meetings":
            continue
        value = getattr(obj, key, None)
        if value is None or (value == "" and field.kind == "text"):
            continue  # an optional key that is not set
        out[key] = _export_value(value, zone)
    return out


def export_forum(forum: Forum, zone: str = "Europe/Berlin") -> str:
    """The forum file of a forum and all its rounds (times in ``zone``); loading it changes
    nothing. Written from the same field lists the loader checks, so new keys come along."""
    tz = ZoneInfo(zone)
    data: dict[str, Any] = {"forum": _export_table(forum, FORUM_FIELDS, tz), "rounds": []}
    rounds = sorted(forum.rounds, key=lambda r: (r.opens, r.id))
    for rnd in rounds:
        table = _export_table(rnd, ROUND_FIELDS, tz)
        meetings = sorted(rnd.meetings, key=lambda m: (m.position, m.id))
        table["meetings"] = [_export_table(m, MEETING_FIELDS, tz) for m in meetings]
        data["rounds"].append(table)
    if not data["rounds"]:
        del data["rounds"]
    return tomli_w.dumps(data, multiline_strings=True)
