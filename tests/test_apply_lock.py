"""The apply path reads and validates before it takes SQLite's write lock, and holds the lock
only for its writes (forum.db.reads_first / begin_writes)."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from flask import Flask
from sqlalchemy import func, select

from forum.db import begin_writes, reads_first
from forum.extensions import db
from forum.models import Forum
from registration.models import Application
from tests.helpers import application_data


@pytest.fixture
def sqlite_path(app) -> str:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    return db.engine.url.database


class HeldWriteLock:
    """Another process's writer: holds SQLite's write lock until released."""

    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def test_invalid_and_ineligible_answers_need_no_write_lock(client, make_round, sqlite_path):
    rnd = make_round(states=["DE-BY"])
    db.session.commit()
    lock = HeldWriteLock(sqlite_path)
    try:
        # With the lock taken at the start of the request, both would wait for the busy
        # timeout and fail; read first, they answer at once.
        missing = client.post(f"/rounds/{rnd.slug}/apply", data=application_data(email=""))
        assert missing.status_code == 422
        elsewhere = client.post(f"/rounds/{rnd.slug}/apply", data=application_data(state="DE-NW"))
        assert elsewhere.status_code == 422
        assert "Nordrhein-Westfalen" in elsewhere.get_data(as_text=True)
    finally:
        lock.release()
    assert db.session.scalar(select(func.count(Application.id))) == 0


def test_a_valid_application_waits_for_the_lock_and_is_stored(client, make_round, sqlite_path):
    rnd = make_round()
    db.session.commit()
    lock = HeldWriteLock(sqlite_path)
    answers: list[int] = []

    def post():
        with client.application.app_context():
            answers.append(
                client.post(f"/rounds/{rnd.slug}/apply", data=application_data()).status_code
            )

    # The POST starts while another writer holds the lock; it must wait (not fail) and store
    # its row once the lock is free.
    poster = threading.Thread(target=post)
    poster.start()
    poster.join(1.0)
    assert poster.is_alive()  # still waiting for the lock
    lock.release()
    poster.join(30)
    assert answers == [302]
    assert db.session.scalar(select(func.count(Application.id))) == 1


def test_a_write_before_begin_writes_is_refused(app: Flask):
    @reads_first
    def careless_view():
        db.session.add(Forum(slug="x", title="x", summary="", description=""))
        db.session.flush()

    with app.test_request_context("/", method="POST"):
        with pytest.raises(RuntimeError, match="begin_writes"):
            careless_view()
        db.session.rollback()

    @reads_first
    def careful_view():
        db.session.scalar(select(func.count(Forum.id)))
        begin_writes()
        db.session.add(Forum(slug="y", title="y", summary="", description=""))
        db.session.commit()

    with app.test_request_context("/", method="POST"):
        careful_view()
    assert db.session.scalar(select(Forum.slug)) == "y"
