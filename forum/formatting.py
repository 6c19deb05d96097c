"""Dates as people read them, for pages and mails, in the current locale and Europe/Berlin."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as etree

import markdown
from flask_babel import format_date, format_datetime, format_time, to_user_timezone
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from markupsafe import Markup, escape


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


def timestamp(value: str | datetime | None, pattern: str = "medium") -> str:
    """One format for every point in time on pages and in mails: ``31.01.2027, 23:59``
    (``Jan 31, 2027, 11:59 PM``), Berlin time, no seconds. ``short``/``medium`` (the names the
    templates use) both give it; a CLDR pattern (``d. MMMM y``) is used as given."""
    if not value:
        return ""
    when = _dt(value)
    if pattern in ("short", "medium"):
        return f"{format_date(when, 'medium')}, {format_time(when, 'short')}"
    return format_datetime(when, pattern)


def register(env) -> None:
    env.filters["meeting_span"] = meeting_span
    env.filters["deadline"] = deadline
    env.filters["markdown"] = render_markdown
    env.filters["datetime"] = timestamp
    env.filters["date"] = lambda v, f="long": format_date(_dt(v), f) if v else ""


# --- Markdown for organizer texts ------------------------------------------------------------

_SAFE_SCHEMES = ("http", "https", "mailto")


class _SafeLinks(Treeprocessor):
    """No images (no external assets, no tracking pixels) and only http(s)/mailto links."""

    def run(self, root):
        for parent in list(root.iter()):
            for index, el in enumerate(list(parent)):
                if el.tag == "img":
                    alt = el.get("alt", "")
                    span = etree.Element("span")
                    span.text = alt
                    span.tail = el.tail
                    parent.remove(el)
                    parent.insert(index, span)
                elif el.tag == "a":
                    href = (el.get("href") or "").strip()
                    scheme = urlsplit(href).scheme.lower()
                    if scheme not in _SAFE_SCHEMES:
                        el.attrib.pop("href", None)
                    else:
                        el.set("rel", "noopener noreferrer")


class SafeMarkdown(Extension):
    def extendMarkdown(self, md):  # noqa: N802 (Markdown's name)
        md.treeprocessors.register(_SafeLinks(md), "safe_links", 0)


_GENDER_STAR = re.compile(r"(?<=\w)\*(?=\w)")


def protect_gender_star(text: str) -> str:
    """German gender-inclusive forms (``Bürgermeister*innen``) put a star inside a word;
    Markdown would read two of them as emphasis. Stars between letters stay stars."""
    return _GENDER_STAR.sub(r"\\*", text)


_NUMBER_IN_BULLET = re.compile(r"^([ \t]*[-*+][ \t]+)(\d+)\.(?=[ \t])", re.M)


def protect_list_numbers(text: str) -> str:
    """``- 1. Arbeitstreffen`` is a bullet whose text starts with a number, not a numbered list
    inside a bullet (as Markdown would read it)."""
    return _NUMBER_IN_BULLET.sub(r"\1\2\\.", text)


def organizer_markdown_source(text: str) -> str:
    """What organizers write, made ready for Markdown: HTML escaped, gender stars and numbers
    at the start of bullets kept as typed."""
    return protect_list_numbers(protect_gender_star(str(escape(text or ""))))


def render_markdown(text: str) -> Markup:
    """Organizers write Markdown, not HTML: raw HTML is escaped first, images are dropped,
    links keep only http, https and mailto targets."""
    source = organizer_markdown_source(text)
    html = markdown.markdown(source, extensions=["sane_lists", SafeMarkdown()])
    return Markup(html)
