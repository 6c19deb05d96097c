"""Public pages of the base: the list of forums and a forum's page."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .db import utcnow
from .extensions import db
from .models import Forum, Round

bp = Blueprint("forum", __name__)


@bp.get("/")
def index():
    now = utcnow()
    forums = db.session.scalars(
        select(Forum)
        .options(selectinload(Forum.rounds).selectinload(Round.meetings))
        .order_by(Forum.title)
    ).all()
    listing = [(forum, [r for r in forum.rounds if r.closes >= now]) for forum in forums]
    return render_template("forum/index.html", listing=listing, now=now)


@bp.get("/forums/<slug>")
def forum_page(slug: str):
    forum = db.session.scalar(
        select(Forum)
        .where(Forum.slug == slug)
        .options(selectinload(Forum.rounds).selectinload(Round.meetings))
    )
    if forum is None:
        abort(404)
    return render_template("forum/forum.html", forum=forum, now=utcnow())


@bp.get("/rounds/<slug>/meetings.ics")
def meetings_calendar(slug: str):
    """The public calendar of a round's meetings (the same UIDs as in the mails)."""
    from .calendar import meetings_ics

    rnd = db.session.scalar(
        select(Round).where(Round.slug == slug).options(selectinload(Round.meetings))
    )
    if rnd is None:
        abort(404)
    return Response(
        meetings_ics(rnd),
        mimetype="text/calendar",
        headers={"Content-Disposition": f'inline; filename="{rnd.slug}.ics"'},
    )


@bp.get("/healthz")
def healthz():
    db.session.execute(select(1))
    return {"status": "ok", "lang": request.accept_languages.best or ""}
