"""The newsletter: double opt-in subscriptions with a consent record, announcements of new
rounds dispatched in batches, one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the newsletter's blueprints, commands and maintenance tasks."""
