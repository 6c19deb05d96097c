"""Applications: the form, eligibility, tokens, the lifecycle, the waitlist and review.
Builds on :mod:`forum`."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from forum.maintenance import register_task

    from . import (
        models,  # noqa: F401
        views,
    )
    from .services import expire_unconfirmed

    app.register_blueprint(views.bp)
    register_task(app, "expired_unconfirmed", expire_unconfirmed)
