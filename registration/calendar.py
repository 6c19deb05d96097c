"""The meetings of a round as an iCalendar file (RFC 5545), attached to the acceptance mail."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from icalendar import Calendar, Event

from forum.db import utcnow
from forum.models import Round


def meetings_ics(rnd: Round) -> str:
    host = urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "kommunalforum"
    cal = Calendar()
    cal.add("prodid", f"-//{current_app.config.get('ORGANIZER_NAME', 'Kommunalforum')}//DE")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    stamp = utcnow()
    for meeting in rnd.meetings:
        event = Event()
        # Stable per meeting, so that a second file updates the entries instead of adding.
        event.add("uid", f"meeting-{meeting.id}-{rnd.slug}@{host}")
        event.add("dtstamp", stamp)
        event.add("dtstart", meeting.starts)
        event.add("dtend", meeting.ends)
        event.add("summary", f"{rnd.title}: {meeting.title}")
        location = ", ".join(part for part in (meeting.venue, meeting.address) if part)
        if location:
            event.add("location", location)
        event.add("description", f"{rnd.forum.title} – {rnd.title}")
        cal.add_component(event)
    return cal.to_ical().decode("utf-8")
