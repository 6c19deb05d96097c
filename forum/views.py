"""Public pages of the base: the list of forums and a forum's page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .csvdownload import download_name, download_response
from .db import utcnow
from .extensions import db, rq
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


def forum_or_404(slug: str) -> Forum:
    """A forum with its rounds and their meetings (the public pages show all of them)."""
    forum = db.session.scalar(
        select(Forum)
        .where(Forum.slug == slug)
        .options(selectinload(Forum.rounds).selectinload(Round.meetings))
    )
    if forum is None:
        abort(404)
    return forum


@bp.get("/forums/<slug>")
def forum_page(slug: str):
    forum = forum_or_404(slug)
    return render_template("forum/forum.html", forum=forum, now=utcnow())


@bp.get("/healthz/live")
def liveness():
    """Liveness: the process answers. Touches no dependency (a database outage must not make
    an orchestrator restart healthy processes)."""
    return {"status": "alive"}


@bp.get("/rounds/<slug>/meetings.ics")
def meetings_calendar(slug: str):
    """The public calendar of a round's meetings (the same UIDs as in the mails)."""
    from .calendar import meetings_ics

    rnd = db.session.scalar(
        select(Round).where(Round.slug == slug).options(selectinload(Round.meetings))
    )
    if rnd is None:
        abort(404)
    return download_response(
        meetings_ics(rnd), download_name(rnd.slug, "ics"), "text/calendar", inline=True, cache=None
    )


@bp.get("/healthz")
@bp.get("/healthz/ready")
def healthz():
    """Readiness: 200 while the database answers, else 503; names each dependency's state.
    Redis down is reported but not fatal (mail waits in the outbox)."""
    checks = {"database": _check_database(), "redis": _check_redis()}
    ready = checks["database"] == "ok"
    body = {"status": "ok" if ready else "unavailable", **checks}
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    if not ready:
        response.headers["Retry-After"] = str(current_app.config["RETRY_AFTER_SECONDS"])
    return response


def _check_database() -> str:
    try:
        db.session.execute(select(1))
        db.session.rollback()
        return "ok"
    except Exception as exc:
        try:
            db.session.rollback()
        except Exception:
            db.session.remove()
        current_app.logger.warning("health check: database down: %s", exc)
        return "down"


def _check_redis() -> str:
    try:
        rq.get_queue("default").connection.ping()
        return "ok"
    except Exception as exc:
        current_app.logger.warning("health check: redis down: %s", exc)
        return "down"
