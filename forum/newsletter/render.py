"""Rendering of newsletter mails: the organizer's text as text and HTML, the frame templates
``mail_templates/newsletter_announcement.<locale>.{txt,html}``, and the list headers.

A batch renders each language once with a placeholder for the unsubscribe link and puts the
personal link in per recipient (a string replacement, not a template run per mail)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import markdown as md
from flask import current_app
from markupsafe import Markup, escape

from forum.formatting import organizer_markdown_source
from forum.mail import RenderedMail, render_mail

UNSUBSCRIBE_PLACEHOLDER = "NEWSLETTERUNSUBSCRIBEURLPLACEHOLDER"
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
    declarations go. Bare URLs in text outside links become links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
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
        self.out.append(text if self.links else _URL.sub(_linkify, text))

    def result(self) -> str:
        self.close()
        for top in reversed(self.open):
            if top != "a-dropped":
                self.out.append(f"</{top}>")
        self.open.clear()
        return "".join(self.out)


def body_to_html(text: str) -> Markup:
    """The organizer's text (plain text with light Markdown: paragraphs, ``- `` lists,
    ``**bold**``, headings, links) as HTML. Escaped first, so no HTML of the author gets
    through; then Markdown's output passes an allowlist (:class:`_Sanitizer`): no images, no
    links other than http, https and mailto. Bare URLs outside of links become links."""
    html = md.markdown(organizer_markdown_source(text), extensions=["sane_lists"])
    sanitizer = _Sanitizer()
    sanitizer.feed(html)
    return Markup(sanitizer.result())


def list_id() -> str:
    configured = current_app.config["NEWSLETTER_LIST_ID"]
    if configured:
        return configured
    host = urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "localhost"
    name = current_app.config["ORGANIZER_NAME"]
    phrase = f"{name} Newsletter" if name.isascii() and '"' not in name else "Newsletter"
    return f'"{phrase}" <newsletter.{host}>'


def list_headers(unsubscribe: str) -> dict[str, str]:
    """RFC 2369 / RFC 8058 headers for one recipient."""
    value = f"<{unsubscribe}>"
    mailto = current_app.config["NEWSLETTER_UNSUBSCRIBE_MAILTO"]
    if mailto:
        value += f", <mailto:{mailto}?subject=unsubscribe>"
    return {
        "List-Unsubscribe": value,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": list_id(),
        "Precedence": "bulk",
        "Auto-Submitted": "auto-generated",
    }


def announcement_context(subject: str, body: str, unsubscribe: str, contact: str = "") -> dict:
    return {
        "subject": subject,
        "body": body,
        "unsubscribe_url": unsubscribe,
        "contact_email": contact,
    }


def reply_to_header(contact: str) -> dict[str, str]:
    return {"Reply-To": contact} if contact else {}


def render_template_for_batch(
    subject: str, body: str, locale: str, contact: str = ""
) -> RenderedMail:
    """The mail with :data:`UNSUBSCRIBE_PLACEHOLDER` where the personal link goes; answers go
    to ``contact`` (the announced round's forum), if given."""
    rendered = render_mail(
        "newsletter_announcement",
        locale,
        announcement_context(subject, body, UNSUBSCRIBE_PLACEHOLDER, contact),
    )
    rendered.headers = reply_to_header(contact)
    return rendered
