"""Access to one application: for organizers, the application if the signed-in organizer
manages its forum, else 404 (other forums' objects do not exist for them); for applicants, the
object a signed link names (:func:`by_token`), else the bad-link page."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, render_template

from forum.auth import require_forum
from forum.extensions import db

from .models import Application


def application_or_404(application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None:
        abort(404)
    require_forum(application.round.forum_id)
    return application


T = TypeVar("T")


def by_token(lookup: Callable[[str], T | None]):
    """A page behind a signed link (``/status/<token>``, ``/offers/<token>``, …): the view is
    called with what ``lookup(token)`` finds and the token; a forged, damaged or outdated link
    gets the bad-link page (404) and the view is not called."""

    def decorator(view: Callable[[T, str], Any]) -> Callable[[str], Any]:
        @functools.wraps(view)
        def page(token: str):
            found = lookup(token)
            if found is None:
                return render_template("registration/bad_link.html"), 404
            return view(found, token)

        return page

    return decorator
