"""The keys that sign links and sessions. ``SECRET_KEY`` signs; the old keys in
``SECRET_KEY_FALLBACKS`` (Flask's setting, also used for sessions) still verify, so that links in
mails sent before a key rotation keep working."""

from __future__ import annotations

from flask import current_app


def signing_keys() -> list[str | bytes]:
    """For ``itsdangerous``: oldest first, the current key last (it signs)."""
    return [*current_app.config["SECRET_KEY_FALLBACKS"], current_app.config["SECRET_KEY"]]
