"""A circuit breaker for optional Redis calls made during a request.

Enqueueing a mail is optional in a request: the row is in the outbox, and the maintenance sweep
enqueues whatever is unsent. Once such a call failed (Redis down, or frozen until the socket
timed out), this process skips them for ``REDIS_BACKOFF_SECONDS``, so that only the first
request pays the timeout, not every one. Kept per Redis URL (an app's ``RQ_CONNECTION``)."""

from __future__ import annotations

import threading
import time

from flask import current_app, has_request_context

_lock = threading.Lock()
_down_until: dict[str, float] = {}


def _key() -> str:
    return str(current_app.config["RQ_CONNECTION"])


def available() -> bool:
    """False during the backoff, in a request only: jobs, the sweep and commands always try."""
    return not has_request_context() or time.monotonic() >= _down_until.get(_key(), 0.0)


def failed() -> None:
    with _lock:
        _down_until[_key()] = time.monotonic() + current_app.config["REDIS_BACKOFF_SECONDS"]


def succeeded() -> None:
    with _lock:
        _down_until.pop(_key(), None)
