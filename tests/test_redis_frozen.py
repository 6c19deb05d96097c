"""Issue 12, finding 2: a frozen Redis (SIGSTOP of its server) costs a request at most a couple
of seconds, and the mail goes out once it thaws (the outbox sweep)."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from forum.models import OutboxMessage
from tests.helpers import application_data, free_port
from tests.helpers.jobs import run_jobs
from tests.helpers.processes import start_redis

# serial: kills and restarts workers and measures how long things take
pytestmark = pytest.mark.serial


LIMIT_SECONDS = 2.5


@pytest.fixture
def own_redis():
    """A redis-server of this test's own, so that freezing it disturbs no other test."""
    port = free_port()
    proc = start_redis(port)
    yield proc, f"redis://127.0.0.1:{port}/0"
    proc.send_signal(signal.SIGCONT)
    proc.terminate()
    proc.wait(10)


def _timed(fn):
    started = time.monotonic()
    response = fn()
    return response, time.monotonic() - started


def test_requests_stay_quick_while_redis_is_frozen(app, make_app, own_redis, make_round, smtp):
    proc, url = own_redis
    frozen_app = make_app(RQ_CONNECTION=url, RATELIMIT_ENABLED=True)
    rnd = make_round()
    c = frozen_app.test_client()
    assert c.get("/").status_code == 200  # connections made while Redis is well

    proc.send_signal(signal.SIGSTOP)
    # Whatever happens, thaw after 30 s: a hanging request then shows up as a slow one.
    safety = threading.Timer(30, lambda: proc.send_signal(signal.SIGCONT))
    safety.start()
    try:
        timings = {}
        for i in range(2):
            response, timings[f"apply {i + 1}"] = _timed(
                lambda i=i: c.post(
                    f"/rounds/{rnd.slug}/apply",
                    data=application_data(email=f"frost{i}@gemeinde-{i}.de"),
                )
            )
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
            response, timings[f"newsletter {i + 1}"] = _timed(
                lambda i=i: c.post(
                    "/newsletter",
                    data={"email": f"abo{i}@gemeinde.de", "privacy_consent": "y"},
                )
            )
            assert response.status_code == 302
        response, timings["index"] = _timed(lambda: c.get("/"))
        assert response.status_code == 200
    finally:
        safety.cancel()
        proc.send_signal(signal.SIGCONT)
    print("\nrequest seconds with Redis frozen:", {k: round(v, 2) for k, v in timings.items()})
    assert max(timings.values()) < LIMIT_SECONDS, timings

    # Thawed: the maintenance run enqueues what is unsent, a worker delivers it.
    db.session.commit()
    unsent = db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
    )
    assert unsent == 4
    with frozen_app.app_context():  # the command runs in the current app context
        result = frozen_app.test_cli_runner().invoke(args=["maintenance", "run"])
    assert result.exit_code == 0, result.output
    assert "outbox_enqueued: 4" in result.output
    run_jobs(frozen_app)
    for address in (
        "frost0@gemeinde-0.de",
        "frost1@gemeinde-1.de",
        "abo0@gemeinde.de",
        "abo1@gemeinde.de",
    ):
        assert len(smtp.to(address)) == 1, address
