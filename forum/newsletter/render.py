"""Rendering of newsletter mails: the organizer's text as text and HTML, the frame templates
``mail_templates/newsletter_announcement.<locale>.{txt,html}``, and the list headers.

A batch renders each language once with a placeholder for the unsubscribe link and puts the
personal link in per recipient (a string replacement, not a template run per mail)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import markdown as md
from flask import current_app
from markupsafe import Markup, escape

from forum.mail import RenderedMail, render_mail

UNSUBSCRIBE_PLACEHOLDER = "NEWSLETTERUNSUBSCRIBEURLPLACEHOLDER"
# In escaped text: stop at white space, quotes and escaped angle brackets; no trailing dot etc.
_URL = re.compile(r"https?://(?:(?!&lt;|&gt;|&quot;|&#3[49];)[^\s<>\"'])+")
_TAG = re.compile(r"(<[^>]*>)")
_SAFE_HREF = re.compile(r'<a href="(https?:|mailto:)[^"]*"( title="[^"]*")?>$')


def _linkify(match: re.Match) -> str:
    url = match.group(0)
    tail = ""
    while url and url[-1] in ".,;:!?)":
        url, tail = url[:-1], url[-1] + tail
    return f'<a href="{url}">{url}</a>{tail}'


def body_to_html(text: str) -> Markup:
    """The organizer's text (plain text with light Markdown: paragraphs, ``- `` lists,
    ``**bold**``) as HTML. Escaped first, so no HTML of the author gets through; bare URLs
    outside of links become links."""
    html = md.markdown(str(escape(text or "")), extensions=["sane_lists"])
    parts, in_link = [], False
    for part in _TAG.split(html):
        if part.startswith("<"):
            if part.startswith("<a "):
                in_link = True
                if not _SAFE_HREF.match(part):
                    part = "<a>"  # only web and mail links (no javascript: and the like)
            elif part == "</a>":
                in_link = False
            parts.append(part)
        else:
            parts.append(part if in_link else _URL.sub(_linkify, part))
    return Markup("".join(parts))


def list_id() -> str:
    configured = current_app.config.get("NEWSLETTER_LIST_ID")
    if configured:
        return configured
    host = urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "localhost"
    name = current_app.config.get("ORGANIZER_NAME", "Kommunalforum")
    phrase = f"{name} Newsletter" if name.isascii() and '"' not in name else "Newsletter"
    return f'"{phrase}" <newsletter.{host}>'


def list_headers(unsubscribe: str) -> dict[str, str]:
    """RFC 2369 / RFC 8058 headers for one recipient."""
    value = f"<{unsubscribe}>"
    mailto = current_app.config.get("NEWSLETTER_UNSUBSCRIBE_MAILTO")
    if mailto:
        value += f", <mailto:{mailto}?subject=unsubscribe>"
    return {
        "List-Unsubscribe": value,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": list_id(),
        "Precedence": "bulk",
        "Auto-Submitted": "auto-generated",
    }


def announcement_context(subject: str, body: str, unsubscribe: str) -> dict:
    return {"subject": subject, "body": body, "unsubscribe_url": unsubscribe}


def render_template_for_batch(subject: str, body: str, locale: str) -> RenderedMail:
    """The mail with :data:`UNSUBSCRIBE_PLACEHOLDER` where the personal link goes."""
    return render_mail(
        "newsletter_announcement",
        locale,
        announcement_context(subject, body, UNSUBSCRIBE_PLACEHOLDER),
    )
