"""Organizer access to one application: the application, if the signed-in organizer manages
its forum; else 404 (other forums' objects do not exist for them)."""

from __future__ import annotations

from flask import abort

from forum.auth import require_forum
from forum.extensions import db

from .models import Application


def application_or_404(application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None:
        abort(404)
    require_forum(application.round.forum_id)
    return application
