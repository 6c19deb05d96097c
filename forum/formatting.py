"""Dates as people read them, for pages and mails, in the current locale and Europe/Berlin;
and the one Markdown renderer with its HTML sanitiser (:func:`render_markdown`)."""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser

import markdown
from flask_babel import format_date, format_datetime, format_time, to_user_timezone
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


# In escaped text: stop at white space, quotes and escaped angle brackets; no trailing dot etc.
_URL = re.compile(r"https?://(?:(?!&lt;|&gt;|&quot;|&#3[49];)[^\s<>\"'])+")
#: What the organizer's Markdown may become in a mail: text structure and links, nothing that
#: loads anything (no images: a remote image is a tracking pixel; "no external assets").
_ALLOWED = frozenset(
    {"p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6"}
    | {"a", "blockquote", "code", "pre", "hr"}
)
_VOID = frozenset({"br", "hr"})
_SAFE_SCHEMES = ("http:", "https:", "mailto:")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]+")


def _linkify(match: re.Match) -> str:
    url = match.group(0)
    tail = ""
    while url and url[-1] in ".,;:!?)":
        url, tail = url[:-1], url[-1] + tail
    return f'<a href="{url}">{url}</a>{tail}'


def _safe_href(value: str | None) -> str | None:
    """The link target if it is a web or mail address (checked after entities are decoded,
    ignoring case and any spaces or control characters a browser would skip)."""
    if not value:
        return None
    probe = _CONTROL_OR_SPACE.sub("", value).lower()
    if not probe.startswith(_SAFE_SCHEMES) or probe in _SAFE_SCHEMES:
        return None
    return value.strip()


class _Sanitizer(HTMLParser):
    """Rebuilds HTML from an allowlist: the tags of :data:`_ALLOWED` without attributes, except
    ``href`` (http, https, mailto) and ``title`` on links and ``start`` on ordered lists. An
    image becomes its alt text; any other tag is dropped (its text stays, escaped); comments and
    declarations go. With ``linkify``, bare URLs in text outside links become links; ``rel`` is
    put on every link."""

    def __init__(self, linkify: bool, rel: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.linkify = linkify
        self.rel = rel
        self.out: list[str] = []
        self.open: list[str] = []  # allowed tags opened and not yet closed
        self.links = 0  # depth of open <a> (no links inside links)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.handle_data(attrs.get("alt") or "")
            return
        if tag not in _ALLOWED:
            return
        rendered = ""
        if tag == "a":
            if self.links:
                return
            href = _safe_href(attrs.get("href"))
            if href is None:
                self.open.append("a-dropped")
                return
            rendered = f' href="{escape(href)}"'
            if attrs.get("title"):
                rendered += f' title="{escape(attrs["title"])}"'
            if self.rel:
                rendered += f' rel="{escape(self.rel)}"'
            self.links += 1
        elif tag == "ol" and (attrs.get("start") or "").isdigit():
            rendered = f' start="{int(attrs["start"])}"'
        self.out.append(f"<{tag}{rendered}>")
        if tag not in _VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and tag in self.open:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag == "a" and "a-dropped" in self.open:
            if self.open[-1] == "a-dropped":
                self.open.pop()
                return
        if tag not in _ALLOWED or tag in _VOID or tag not in self.open:
            return
        while self.open:  # close what is still open inside it
            top = self.open.pop()
            if top == "a-dropped":
                continue
            self.out.append(f"</{top}>")
            if top == "a":
                self.links -= 1
            if top == tag:
                break

    def handle_data(self, data):
        text = str(escape(data))
        self.out.append(_URL.sub(_linkify, text) if self.linkify and not self.links else text)

    def result(self) -> str:
        self.close()
        for top in reversed(self.open):
            if top != "a-dropped":
                self.out.append(f"</{top}>")
        self.open.clear()
        return "".join(self.out)


def render_markdown(
    text: str, *, linkify: bool = False, rel: str | None = "noopener noreferrer"
) -> Markup:
    """The one way organizers' Markdown becomes HTML (pages, mails, newsletters): raw HTML is
    escaped first, then Markdown's output passes an allowlist (:class:`_Sanitizer`): no images
    (no external assets, no tracking pixels), links only to http, https and mailto targets."""
    html = markdown.markdown(organizer_markdown_source(text), extensions=["sane_lists"])
    sanitizer = _Sanitizer(linkify, rel)
    sanitizer.feed(html)
    return Markup(sanitizer.result())
