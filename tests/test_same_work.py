"""Issue 12, finding 7: the public forms do the same work for a known and an unknown address.

Measured as work, not wall time: the SQL statements a POST sends (a ``before_cursor_execute``
listener on the engine) and the Redis commands it costs (the server's own ``commandstats``),
for an address that already applied / subscribed and for a new one. Both must be the same
sequence, and the answer (status and redirect) the same; the job after the commit decides
which mail goes out."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import redis as redis_lib
from sqlalchemy import event, func, select

from forum.extensions import db
from forum.newsletter.models import Subscriber, SubscriberStatus
from registration.models import Application, ApplicationEvent
from tests.helpers import application_data

KNOWN = "bekannt@gemeinde-beispiel.de"


def _commandstats(redis: redis_lib.Redis) -> Counter:
    stats = redis.info("commandstats")
    return Counter({name: int(value["calls"]) for name, value in stats.items()})


class Work:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.redis: Counter = Counter()


@contextmanager
def measured(redis: redis_lib.Redis) -> Iterator[Work]:
    work = Work()

    def listener(_conn, _cursor, statement, _params, _context, _executemany):
        work.statements.append(" ".join(statement.split()))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    before = _commandstats(redis)
    try:
        yield work
    finally:
        after = _commandstats(redis)
        event.remove(engine, "before_cursor_execute", listener)
        # our own INFO call is the same in both measurements; drop it for a clear message
        work.redis = Counter({k: v for k, v in (after - before).items() if k != "cmdstat_info"})


def _post(client, redis, url: str, data: dict) -> tuple[int, str, Work]:
    with measured(redis) as work:
        response = client.post(url, data=data)
    return response.status_code, response.headers.get("Location", ""), work


def test_apply_does_the_same_work_for_a_known_address(
    app, client, make_round, redis_url, smtp, work
):
    redis = redis_lib.Redis.from_url(redis_url)
    rnd = make_round()
    url = f"/rounds/{rnd.slug}/apply"
    # A first application makes KNOWN known; a second warms up the connection's settings.
    assert client.post(url, data=application_data(email=KNOWN)).status_code == 302
    assert client.post(url, data=application_data(email="warm@up.de")).status_code == 302

    known = _post(client, redis, url, application_data(email=KNOWN, newsletter="y"))
    unknown = _post(client, redis, url, application_data(email="neu@gemeinde.de", newsletter="y"))
    known_again = _post(client, redis, url, application_data(email=KNOWN, newsletter="y"))

    assert known[:2] == unknown[:2] == known_again[:2]
    assert known[0] == 302
    assert known[2].statements == unknown[2].statements == known_again[2].statements
    assert known[2].redis == unknown[2].redis == known_again[2].redis
    assert sum(known[2].redis.values()) >= 1  # the flush request after the commit
    # Still one live application per address; the new one stored with its history row.
    live = db.session.scalar(
        select(func.count()).select_from(Application).where(Application.email == KNOWN)
    )
    assert live == 1
    new = db.session.scalar(select(Application).where(Application.email == "neu@gemeinde.de"))
    assert new is not None and new.status == "pending_email"
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(ApplicationEvent)
            .where(ApplicationEvent.application_id == new.id)
        )
        == 1
    )


def test_subscribe_does_the_same_work_for_a_known_address(app, client, redis_url, smtp, work):
    redis = redis_lib.Redis.from_url(redis_url)
    db.session.add(
        Subscriber(
            email=KNOWN,
            email_normalized=KNOWN,
            name="Bekannt",
            locale="de",
            status=SubscriberStatus.CONFIRMED.value,
        )
    )
    db.session.commit()
    form = {"privacy_consent": "y", "name": "Jemand"}
    assert client.post("/newsletter", data={**form, "email": "warm@up.de"}).status_code == 302

    known = _post(client, redis, "/newsletter", {**form, "email": KNOWN})
    unknown = _post(client, redis, "/newsletter", {**form, "email": "neu@gemeinde.de"})
    known_again = _post(client, redis, "/newsletter", {**form, "email": KNOWN})

    assert known[:2] == unknown[:2] == known_again[:2]
    assert known[0] == 302
    assert known[2].statements == unknown[2].statements == known_again[2].statements
    assert known[2].redis == unknown[2].redis == known_again[2].redis
    # The job decided: the new address is asked to confirm, the subscribed one gets nothing.
    work()
    assert len(smtp.to("neu@gemeinde.de")) == 1
    assert smtp.to(KNOWN) == []


def test_an_intake_row_is_handled_once_and_a_failing_handler_marks_its_row(
    app, client, make_round, smtp, work, write
):
    from forum.models import OutboxMessage
    from forum.outbox import insert_mails, register_intake, run_intakes

    calls: list[str] = []

    def broken(recipient: str, _locale: str, _context: dict) -> None:
        calls.append(recipient)
        raise ValueError("kaputt")

    register_intake(app, "test_broken", broken)
    rnd = make_round()
    assert client.post(f"/rounds/{rnd.slug}/apply", data=application_data()).status_code == 302
    write(
        insert_mails,
        [{"recipient": "x@y.de", "template": "test_broken", "locale": "de", "context": {}}],
    )
    work()
    assert write(run_intakes) == 0  # nothing left: each row was handed over once
    assert calls == ["x@y.de"]
    # The application's row became its confirmation mail (the intake row is gone) ...
    (mail,) = smtp.to(application_data()["email"])
    assert "bestätigen" in mail["Subject"]
    rows = db.session.execute(select(OutboxMessage.template, OutboxMessage.sent_at)).all()
    assert {r.template for r in rows} == {"application_confirm", "test_broken"}
    # ... and the broken one is marked failed with the error, not retried for ever.
    broken_row = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.template == "test_broken")
    )
    assert broken_row.failed_at is not None and "kaputt" in broken_row.last_error


def test_flush_asks_are_debounced_and_a_commit_after_the_flush_is_still_covered(
    app, client, make_round, redis_url, smtp, work
):
    """A POST right after another skips the Redis round trip; the flush job of the first may
    already have run, so the window's end asks once more and the second mail goes out too."""
    from forum import outbox
    from forum.extensions import rq

    redis = redis_lib.Redis.from_url(redis_url)
    window = 3.0
    app.config["OUTBOX_FLUSH_DEBOUNCE_MS"] = int(window * 1000)
    outbox._window_ends.clear()
    rnd = make_round()
    url = f"/rounds/{rnd.slug}/apply"
    queue = rq.get_queue("mail")

    started = time.monotonic()
    before = _commandstats(redis)["cmdstat_set"]
    assert client.post(url, data=application_data(email="eins@gemeinde.de")).status_code == 302
    assert _commandstats(redis)["cmdstat_set"] == before + 1  # the first asks at once
    work()  # its flush job runs and is gone
    assert len(smtp.to("eins@gemeinde.de")) == 1
    before = _commandstats(redis)["cmdstat_set"]
    assert client.post(url, data=application_data(email="zwei@gemeinde.de")).status_code == 302
    assert time.monotonic() - started < window  # still inside the window:
    assert _commandstats(redis)["cmdstat_set"] == before  # no round trip for this one
    assert len(queue) == 0
    # The window's end asks again (waited for as the event itself, not a fixed sleep).
    deadline = time.monotonic() + window + 5
    while len(queue) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(queue) == 1
    work()
    assert len(smtp.to("zwei@gemeinde.de")) == 1
