"""Reminders before meetings: each ``accepted`` participant gets one mail per meeting and
reminder day (``Round.reminder_days``, default 7 and 1 days before), from the maintenance run
(the scheduler and ``flask maintenance run``).

Never twice: every reminder queued is recorded (:class:`MeetingReminder`, unique per meeting,
application and day) in the transaction that queues its mail, and the run takes the round's
lock before it looks for who is still due, so a second run at the same time waits and then
finds the first one's records. Of several days due at once (a meeting added late, a run after
an outage) only the nearest is sent. Nothing for cancelled or past meetings, nor for people
who only hold an offer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from forum.db import lock_row, utcnow
from forum.extensions import db
from forum.models import Meeting, Round

from .. import notifications
from ..lifecycle import PARTICIPATING, values
from ..models import Application, MeetingReminder

#: No round reminds earlier than this (the loader allows at most 365 days).
_HORIZON = timedelta(days=366)


def due_day(rnd: Round, meeting: Meeting, now: datetime) -> int | None:
    """The reminder day due now for a meeting (the nearest of those passed), or None."""
    if meeting.cancelled or meeting.starts <= now:
        return None
    due = [d for d in rnd.reminder_days or [] if meeting.starts - timedelta(days=d) <= now]
    return min(due) if due else None


def send_due_reminders(now: datetime | None = None) -> int:
    """Maintenance task: queue the reminders that are due; returns how many. One transaction
    per round, so a round's lock is held briefly."""
    now = now or utcnow()
    round_ids = list(
        db.session.scalars(
            select(Meeting.round_id)
            .where(
                Meeting.cancelled.is_(False),
                Meeting.starts > now,
                Meeting.starts <= now + _HORIZON,
            )
            .distinct()
        )
    )
    db.session.commit()
    count = 0
    for round_id in round_ids:
        rnd = lock_row(Round, round_id)
        for meeting in list(rnd.meetings):
            day = due_day(rnd, meeting, now)
            if day is None:
                continue
            reminded = select(MeetingReminder.application_id).where(
                MeetingReminder.meeting_id == meeting.id, MeetingReminder.days == day
            )
            participants = db.session.scalars(
                select(Application)
                .where(
                    Application.round_id == round_id,
                    Application.status.in_(values(PARTICIPATING)),
                    Application.id.not_in(reminded),
                )
                .order_by(Application.id)
            ).all()
            for application in participants:
                db.session.add(
                    MeetingReminder(meeting_id=meeting.id, application_id=application.id, days=day)
                )
                notifications.notify_meeting_reminder(application, meeting, day)
                count += 1
        db.session.commit()
    return count
