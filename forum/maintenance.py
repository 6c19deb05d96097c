"""The periodic maintenance run. Domain packages register their tasks here (``registration``
registers expiry and lapsing), so this module needs to know none of them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app

from .extensions import db, rq
from .outbox import sweep_unsent

log = logging.getLogger(__name__)

Task = Callable[[], int]


def register_task(app: Flask, name: str, task: Task) -> None:
    """Add a task to the maintenance run; it returns how many items it handled and commits."""
    app.extensions.setdefault("maintenance_tasks", {})[name] = task


def run_maintenance(include_waiting: bool = False) -> dict[str, int]:
    """Run every task, then sweep the outbox. ``include_waiting`` (the command): outbox rows
    waiting for a retry are sent at once too."""
    results: dict[str, int] = {}
    for name, task in current_app.extensions.get("maintenance_tasks", {}).items():
        try:
            results[name] = task()
        except Exception:
            db.session.rollback()
            log.exception("maintenance task %s failed", name)
            results[name] = -1
    # Last, so that the mails the tasks above queued are part of the same sweep.
    results["outbox_enqueued"] = sweep_unsent(include_waiting)
    return results


@rq.job(queue="default")
def maintenance_job() -> dict[str, int]:
    return run_maintenance()
