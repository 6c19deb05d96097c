"""Rendering of newsletter mails: the organizer's text as text and HTML, the frame templates
``mail_templates/newsletter_announcement.<locale>.{txt,html}``, and the list headers.

A batch renders each language once with a placeholder for the unsubscribe link and puts the
personal link in per recipient (a string replacement, not a template run per mail)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from markupsafe import Markup

from forum.formatting import render_markdown
from forum.mail import RenderedMail, render_mail

UNSUBSCRIBE_PLACEHOLDER = "NEWSLETTERUNSUBSCRIBEURLPLACEHOLDER"


def body_to_html(text: str) -> Markup:
    """The organizer's text as the HTML of a newsletter mail: the one Markdown renderer
    (:func:`forum.formatting.render_markdown`), with bare URLs made links."""
    return render_markdown(text, linkify=True, rel=None)


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
