"""Attendance per meeting (``attended``, ``excused``, ``absent``), recorded by organizers at the
door; the dashboard's figures per meeting and the CSV column ``attendance``
(``attended/meetings held``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from forum.db import utcnow
from forum.extensions import db
from forum.models import Meeting, Round

from ..lifecycle import HOLDING, values
from ..models import Application, Attendance


class Presence(StrEnum):
    ATTENDED = "attended"
    EXCUSED = "excused"
    ABSENT = "absent"


def presence_label(value: str) -> str:
    labels: dict[str, str] = {
        Presence.ATTENDED: _("anwesend"),
        Presence.EXCUSED: _("entschuldigt"),
        Presence.ABSENT: _("fehlt"),
    }
    return labels.get(value, value)


class AttendanceError(ValueError):
    """The form names a person or a value that does not belong here; nothing was saved."""


def meeting_by_key(rnd: Round, key: str) -> Meeting | None:
    return next((m for m in rnd.meetings if m.key == key), None)


def people(meeting: Meeting) -> list[Application]:
    """Whom the attendance list shows: the round's seat holders, and anyone recorded for the
    meeting before (someone who attended and withdrew later stays on the list)."""
    recorded = select(Attendance.application_id).where(Attendance.meeting_id == meeting.id)
    return list(
        db.session.scalars(
            select(Application)
            .where(
                Application.round_id == meeting.round_id,
                or_(
                    Application.status.in_(values(HOLDING)),
                    Application.id.in_(recorded),
                ),
            )
            .order_by(Application.last_name, Application.first_name, Application.id)
        )
    )


def current(meeting: Meeting) -> dict[int, str]:
    return dict(
        db.session.execute(
            select(Attendance.application_id, Attendance.status).where(
                Attendance.meeting_id == meeting.id
            )
        ).all()
    )


def parse_form(meeting: Meeting, form) -> dict[int, Presence]:
    """``status-<application id>`` = attended | excused | absent, for people on the list;
    anything else is refused as a whole."""
    allowed = {a.id for a in people(meeting)}
    values: dict[int, Presence] = {}
    for name, value in form.items():
        if not name.startswith("status-"):
            continue
        raw_id = name.removeprefix("status-")
        if not raw_id.isdigit() or int(raw_id) not in allowed:
            raise AttendanceError(
                _("Die Liste enthält eine Person, die nicht zu diesem Treffen gehört.")
            )
        if value not in {p.value for p in Presence}:
            raise AttendanceError(
                _(
                    "Unbekannter Wert „%(value)s“: erlaubt sind anwesend, entschuldigt, fehlt.",
                    value=value[:40],
                )
            )
        values[int(raw_id)] = Presence(value)
    return values


def record(meeting: Meeting, values: dict[int, Presence], by: str) -> int:
    """Store the attendance (the caller commits); returns how many entries changed."""
    existing = {
        a.application_id: a
        for a in db.session.scalars(select(Attendance).where(Attendance.meeting_id == meeting.id))
    }
    changed = 0
    now = utcnow()
    for application_id, presence in values.items():
        row = existing.get(application_id)
        if row is None:
            db.session.add(
                Attendance(
                    meeting_id=meeting.id,
                    application_id=application_id,
                    status=presence.value,
                    recorded_at=now,
                    recorded_by=by,
                )
            )
            changed += 1
        elif row.status != presence.value:
            row.status = presence.value
            row.recorded_at = now
            row.recorded_by = by
            changed += 1
    return changed


@dataclass
class MeetingFigures:
    meeting: Meeting
    counts: Counter = field(default_factory=Counter)

    @property
    def recorded(self) -> int:
        return sum(self.counts.values())


def summary(rnd: Round) -> list[MeetingFigures]:
    """Per meeting of the round: how many attended, were excused, were absent (one query)."""
    figures = {m.id: MeetingFigures(m) for m in sorted(rnd.meetings, key=lambda m: m.starts)}
    rows = db.session.execute(
        select(Attendance.meeting_id, Attendance.status, func.count())
        .join(Meeting, Meeting.id == Attendance.meeting_id)
        .where(Meeting.round_id == rnd.id)
        .group_by(Attendance.meeting_id, Attendance.status)
    )
    for meeting_id, status, n in rows:
        figures[meeting_id].counts[status] = n
    return list(figures.values())


def meetings_held(rnd: Round, now: datetime | None = None) -> int:
    now = now or utcnow()
    return sum(1 for m in rnd.meetings if not m.cancelled and m.starts <= now)


def attended_counts(rnd: Round) -> dict[int, int]:
    """Per application of the round: the number of meetings attended (one query)."""
    return dict(
        db.session.execute(
            select(Attendance.application_id, func.count())
            .join(Meeting, Meeting.id == Attendance.meeting_id)
            .where(Meeting.round_id == rnd.id, Attendance.status == Presence.ATTENDED.value)
            .group_by(Attendance.application_id)
        ).all()
    )


def has_attended(application: Application) -> bool:
    """Whether the person attended at least one meeting (a certificate exists)."""
    return (
        db.session.scalar(
            select(Attendance.id)
            .where(
                Attendance.application_id == application.id,
                Attendance.status == Presence.ATTENDED.value,
            )
            .limit(1)
        )
        is not None
    )
