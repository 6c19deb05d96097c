"""The secret keys for itsdangerous: ``SECRET_KEY_FALLBACKS`` first, ``SECRET_KEY`` last.

itsdangerous signs with the last key and accepts a signature by any of them, so after a
rotation (the old key moved to ``SECRET_KEY_FALLBACKS``) the links in mails already sent, the
device cookies and the sessions keep working, and everything new is signed with the new key.
Flask itself reads ``SECRET_KEY_FALLBACKS`` for the session cookie."""

from __future__ import annotations

from flask import current_app


def secret_keys() -> list[str]:
    return [*current_app.config["SECRET_KEY_FALLBACKS"], current_app.config["SECRET_KEY"]]
