"""Meetings as iCalendar (RFC 5545): the public calendar of a round, the file attached to the
acceptance mail, and the update or cancellation of one meeting (RFC 5546 ``PUBLISH`` /
``CANCEL``). Every event carries the meeting's stored UID and its ``SEQUENCE``, so calendars
update the entry they have instead of adding a second one."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from icalendar import Calendar, Event, vCalAddress

from .db import utcnow
from .models import Meeting, Round


def meeting_uid(meeting: Meeting) -> str:
    host = urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "kommunalforum"
    return f"{meeting.uid}@{host}"


def _calendar(method: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", f"-//{current_app.config['ORGANIZER_NAME']}//DE")
    cal.add("version", "2.0")
    cal.add("method", method)
    return cal


def _event(rnd: Round, meeting: Meeting, cancelled: bool | None = None) -> Event:
    cancelled = meeting.cancelled if cancelled is None else cancelled
    event = Event()
    event.add("uid", meeting_uid(meeting))
    event.add("sequence", meeting.sequence or 0)
    event.add("dtstamp", utcnow())
    event.add("dtstart", meeting.starts)
    event.add("dtend", meeting.ends)
    event.add("summary", f"{rnd.title}: {meeting.title}")
    location = ", ".join(part for part in (meeting.venue, meeting.address) if part)
    if location:
        event.add("location", location)
    event.add("description", f"{rnd.forum.title} – {rnd.title}")
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if rnd.forum.contact_email:
        organizer = vCalAddress(f"mailto:{rnd.forum.contact_email}")
        organizer.params["cn"] = rnd.forum.contact_name or rnd.forum.title
        event.add("organizer", organizer)
    return event


def meetings_ics(rnd: Round) -> str:
    """All meetings of a round (cancelled ones with ``STATUS:CANCELLED``)."""
    cal = _calendar("PUBLISH")
    for meeting in sorted(rnd.meetings, key=lambda m: (m.starts, m.id)):
        cal.add_component(_event(rnd, meeting))
    return cal.to_ical().decode("utf-8")


def meeting_ics(meeting: Meeting) -> str:
    """One meeting as an update (``PUBLISH``) or, if cancelled, a ``CANCEL``."""
    cal = _calendar("CANCEL" if meeting.cancelled else "PUBLISH")
    cal.add_component(_event(meeting.round, meeting))
    return cal.to_ical().decode("utf-8")
