"""Rounds for partner websites (issue 13): the feeds ``/rounds.json`` and ``/rounds.atom`` (open
and upcoming rounds of all forums, with their apply URLs) and ``/embed/forums/<slug>``, a
compact page of a forum's open rounds for an iframe.

Only the embed page may be framed, and only by the origins in ``EMBED_ORIGINS`` (CSP
``frame-ancestors``); every other page keeps ``frame-ancestors 'none'`` and
``X-Frame-Options: DENY`` (``app.py``)."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from datetime import datetime

from flask import Blueprint, Response, current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .codes import BODY_TYPES, ROLES, STATES, label
from .db import utcnow
from .extensions import db
from .mail import public_url
from .models import Round
from .views import forum_or_404

log = logging.getLogger(__name__)

bp = Blueprint("feeds", __name__)

ATOM = "http://www.w3.org/2005/Atom"
ORIGIN_RE = re.compile(r"^https?://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")
CSP_BASE = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; base-uri 'self'"
)


def apply_url(rnd: Round) -> str:
    return public_url(f"/rounds/{rnd.slug}/apply")


def listed_rounds(now: datetime | None = None) -> list[Round]:
    """Open and upcoming rounds of all forums, the soonest deadline first."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(Round)
            .where(Round.closes >= now)
            .options(selectinload(Round.meetings), selectinload(Round.forum))
            .order_by(Round.closes, Round.id)
        )
    )


def _codes(table: dict, codes: list[str]) -> list[dict[str, str]]:
    return [{"code": c, "label": label(table, c)} for c in codes]


def round_entry(rnd: Round, now: datetime) -> dict:
    return {
        "slug": rnd.slug,
        "title": rnd.title,
        "forum": {
            "slug": rnd.forum.slug,
            "title": rnd.forum.title,
            "url": public_url(f"/forums/{rnd.forum.slug}"),
        },
        "phase": rnd.phase(now),
        "seats": rnd.seats,
        "opens": rnd.opens.isoformat(),
        "closes": rnd.closes.isoformat(),
        "admission": rnd.admission,
        "invitation_only": rnd.invitation_only,
        "who_may_apply": {
            "states": _codes(STATES, rnd.states),
            "roles": _codes(ROLES, rnd.roles),
            "body_types": _codes(BODY_TYPES, rnd.body_types),
        },
        "meetings": [
            {
                "title": m.title,
                "starts": m.starts.isoformat(),
                "ends": m.ends.isoformat(),
                "venue": m.venue,
                "address": m.address,
            }
            for m in rnd.meetings
        ],
        "apply_url": apply_url(rnd),
        "updated": rnd.updated_at.isoformat(),
    }


def _feed_headers(response: Response) -> Response:
    # Public data, meant to be read by other sites (also by scripts on them).
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/rounds.json")
def rounds_json():
    now = utcnow()
    rounds = listed_rounds(now)
    response = current_app.json.response(
        {
            "generated": now.isoformat(),
            "self": public_url("/rounds.json"),
            "rounds": [round_entry(r, now) for r in rounds],
        }
    )
    return _feed_headers(response)


def _summary(entry: dict) -> str:
    who = entry["who_may_apply"]
    lines = [
        f"{entry['forum']['title']}: {entry['title']}",
        f"Plätze: {entry['seats']}",
        f"Bewerbung: {entry['opens'][:10]} bis {entry['closes'][:10]}",
        "Bewerben können sich: "
        + ", ".join(c["label"] for c in who["roles"])
        + " ("
        + ", ".join(c["label"] for c in who["body_types"])
        + "; "
        + ", ".join(c["label"] for c in who["states"])
        + ")",
    ]
    if entry["invitation_only"]:
        lines.append("Teilnahme nur auf Einladung.")
    for m in entry["meetings"]:
        lines.append(f"{m['title']}: {m['starts'][:16].replace('T', ' ')}, {m['venue']}")
    lines.append(f"Zur Bewerbung: {entry['apply_url']}")
    return "\n".join(lines)


@bp.get("/rounds.atom")
def rounds_atom():
    now = utcnow()
    rounds = listed_rounds(now)
    ET.register_namespace("", ATOM)

    def sub(parent, tag, text=None, **attrs):
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", "de")
    sub(feed, "id", public_url("/rounds.atom"))
    sub(feed, "title", f"{current_app.config['ORGANIZER_NAME']}: offene und kommende Runden")
    updated = max((r.updated_at for r in rounds), default=now)
    sub(feed, "updated", updated.isoformat())
    sub(feed, "link", rel="self", href=public_url("/rounds.atom"), type="application/atom+xml")
    sub(feed, "link", rel="alternate", href=public_url("/"), type="text/html")
    author = sub(feed, "author")
    sub(author, "name", current_app.config["ORGANIZER_NAME"])
    for rnd in rounds:
        entry = round_entry(rnd, now)
        item = sub(feed, "entry")
        sub(item, "id", public_url(f"/rounds/{rnd.slug}"))
        sub(item, "title", f"{rnd.forum.title}: {rnd.title}")
        sub(item, "updated", rnd.updated_at.isoformat())
        sub(item, "published", rnd.created_at.isoformat())
        sub(item, "link", rel="alternate", href=entry["apply_url"], type="text/html")
        sub(item, "category", term=entry["phase"])
        sub(item, "summary", _summary(entry), type="text")
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    response = Response(body, mimetype="application/atom+xml")
    response.charset = "utf-8"
    return _feed_headers(response)


# --- the embed page ------------------------------------------------------------------------


def embed_origins() -> list[str]:
    """``EMBED_ORIGINS``: a list (or a string separated by spaces or commas) of origins such as
    ``https://www.partner.example``. Anything else is left out (and logged), so a typo can
    never open framing to more than intended."""
    value = current_app.config["EMBED_ORIGINS"]
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value or [])
    origins = []
    for item in items:
        origin = str(item).strip().rstrip("/").lower()
        if ORIGIN_RE.match(origin):
            origins.append(origin)
        else:
            log.warning("EMBED_ORIGINS: %r is not an origin such as https://host, ignored", item)
    return origins


def embed_csp() -> str:
    ancestors = " ".join(embed_origins()) or "'none'"
    return f"{CSP_BASE}; frame-ancestors {ancestors}"


@bp.get("/embed/forums/<slug>")
def embed_forum(slug: str):
    forum = forum_or_404(slug)
    now = utcnow()
    rounds = [r for r in forum.rounds if r.is_open(now)]
    response = Response(render_template("forum/embed.html", forum=forum, rounds=rounds, now=now))
    response.headers["Content-Security-Policy"] = embed_csp()
    return response
