"""Dates as people read them, for pages and mails, in the current locale and Europe/Berlin."""

from __future__ import annotations

from datetime import datetime

from flask_babel import format_date, format_datetime, format_time, to_user_timezone


def _dt(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def meeting_span(starts: str | datetime, ends: str | datetime) -> str:
    """``Mi., 10.03.2027, 10:00 – Do., 11.03.2027, 16:00``; on one day
    ``Mi., 10.03.2027, 10:00–16:00``."""
    start, end = _dt(starts), _dt(ends)
    same_day = to_user_timezone(start).date() == to_user_timezone(end).date()
    first = (
        f"{format_date(start, 'EEE')}, {format_date(start, 'medium')}, "
        f"{format_time(start, 'short')}"
    )
    if same_day:
        return f"{first}–{format_time(end, 'short')}"
    return (
        f"{first} – {format_date(end, 'EEE')}, {format_date(end, 'medium')}, "
        f"{format_time(end, 'short')}"
    )


def deadline(value: str | datetime) -> str:
    """``Samstag, 28. November 2026, 23:44 Uhr`` (no seconds, no zone name)."""
    when = _dt(value)
    return f"{format_date(when, 'full')}, {format_time(when, 'short')}"


def register(env) -> None:
    env.filters["meeting_span"] = meeting_span
    env.filters["deadline"] = deadline
    env.filters.setdefault(
        "datetime", lambda v, f="medium": format_datetime(_dt(v), f) if v else ""
    )
