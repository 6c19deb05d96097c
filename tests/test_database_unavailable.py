"""Issue 12, finding 8: a busy or unreachable database is a calm 503 with Retry-After within a
few seconds, nothing half-written; /healthz names the dependency that is down; liveness and
readiness are separate."""

from __future__ import annotations

import sqlite3
import time

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from registration.models import Application
from tests.helpers import application_data, free_port


def _count() -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(Application))


class Holder:
    """Another connection that keeps the database busy: SQLite's write lock, or on PostgreSQL
    an exclusive lock on the table of rounds, which every apply request reads."""

    def __init__(self, database_url: str):
        self.url = database_url
        self.conn = None

    def __enter__(self):
        if self.url.startswith("sqlite"):
            self.conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            import psycopg

            self.conn = psycopg.connect(self.url.replace("postgresql+psycopg", "postgresql"))
            self.conn.execute("LOCK TABLE round IN ACCESS EXCLUSIVE MODE")
        return self

    def __exit__(self, *exc):
        self.conn.rollback() if not self.url.startswith("sqlite") else self.conn.execute("ROLLBACK")
        self.conn.close()


@pytest.mark.serial  # measures the lock wait
def test_a_busy_database_is_a_quick_503_and_nothing_is_written(
    app, client, make_round, database_url
):
    rnd = make_round()
    db.session.commit()
    with Holder(database_url):
        started = time.monotonic()
        response = client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
        seconds = time.monotonic() - started
    print(f"\nbusy database: {response.status_code} after {seconds:.2f} s")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    page = response.get_data(as_text=True)
    assert "Vorübergehend nicht erreichbar" in page and "nichts gespeichert" in page
    assert 4 < seconds < 10  # the request's lock timeout (5 s), not the jobs' 30 s
    assert _count() == 0
    # Free again: the same request goes through.
    again = client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
    assert again.status_code == 302
    assert _count() == 1


@pytest.mark.serial  # measures time
def test_a_busy_database_does_not_stall_reading_pages_on_sqlite(
    app, client, make_round, database_url
):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only: a writer there blocks only other writers")
    rnd = make_round()
    with Holder(database_url):
        started = time.monotonic()
        assert client.get(f"/rounds/{rnd.slug}/apply").status_code == 200
        assert client.get("/healthz").status_code == 200
        assert time.monotonic() - started < 2


@pytest.mark.serial  # measures time
@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_a_database_that_is_down_is_a_503_and_healthz_names_it(make_app, app, tmp_path, kind):
    if kind == "postgresql":
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/forum"  # nobody listens
    else:
        url = f"sqlite:///{tmp_path}/no-such-folder/forum.sqlite"
    down = make_app(SQLALCHEMY_DATABASE_URI=url)
    c = down.test_client()
    for path in ("/", "/rounds/runde-1/apply"):
        started = time.monotonic()
        response = c.get(path)
        assert response.status_code == 503, path
        assert response.headers["Retry-After"] == "30"
        assert "Vorübergehend nicht erreichbar" in response.get_data(as_text=True)
        assert time.monotonic() - started < 5
    response = c.post("/newsletter", data={"email": "a@gemeinde.de", "privacy_consent": "y"})
    assert response.status_code == 503
    health = c.get("/healthz")
    assert health.status_code == 503
    assert health.get_json() == {"status": "unavailable", "database": "down", "redis": "ok"}
    assert c.get("/healthz/ready").status_code == 503
    live = c.get("/healthz/live")
    assert live.status_code == 200 and live.get_json() == {"status": "alive"}


def test_healthz_names_redis_when_it_is_down(make_app, app):
    no_redis = make_app(RQ_CONNECTION=f"redis://127.0.0.1:{free_port()}/0")
    health = no_redis.test_client().get("/healthz")
    assert health.status_code == 200  # the service works; mail waits in the outbox
    assert health.get_json() == {"status": "ok", "database": "ok", "redis": "down"}


def test_healthz_when_all_is_well(client):
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert health.headers["Cache-Control"] == "no-store"
