"""The meetings of a round as an iCalendar file, attached to the acceptance mail. The calendar
itself belongs to the base (:mod:`forum.calendar`, also the public ``meetings.ics``)."""

from __future__ import annotations

from forum.calendar import meeting_ics, meetings_ics

__all__ = ["meeting_ics", "meetings_ics"]
