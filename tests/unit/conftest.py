"""The fast tier: lifecycle, seats, limits and the waitlist, without servers.

One app per session on SQLite in memory (one connection, Flask-SQLAlchemy's default for
``sqlite://``), its schema made from the models (``create_all``; the migrations are the full
suite's business); every test starts from empty tables. No Redis, no SMTP server, no network:
the outbox rows that mails leave are just rows (the flush that would enqueue them after a
commit is replaced by a stub), and nothing delivers them. Run alone:
``.venv/bin/python -m pytest tests/unit``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from forum import outbox
from forum.db import utcnow
from forum.extensions import db
from forum.models import Forum, Round
from tests.helpers import ROOT
from tests.helpers.applications import application_factory
from tests.helpers.database import empty_tables


def pytest_configure(config: pytest.Config) -> None:
    """Run alone, the tier is configured by tests/unit/pytest.ini; it takes the warnings filters
    and markers of the root pyproject.toml, so a warning fails here as in the full suite."""
    if config.inipath != Path(__file__).with_name("pytest.ini"):
        return  # the full suite: pyproject.toml is the configuration
    with open(ROOT / "pyproject.toml", "rb") as f:
        options = tomllib.load(f)["tool"]["pytest"]["ini_options"]
    for key in ("filterwarnings", "markers"):
        for line in options[key]:
            config.addinivalue_line(key, line)


@pytest.fixture(scope="session")
def unit_app(tmp_path_factory) -> Iterator[Flask]:
    folder = tmp_path_factory.mktemp("unit")  # the instance folder only
    before = os.environ.get("FORUM_INSTANCE_PATH")
    os.environ["FORUM_INSTANCE_PATH"] = str(folder / "instance")
    try:
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "unit-secret",
                "SQLALCHEMY_DATABASE_URI": "sqlite://",  # in memory, one connection
                "RATELIMIT_ENABLED": False,
                "WTF_CSRF_ENABLED": False,
                "PUBLIC_BASE_URL": "https://forum.example.org",
            }
        )
    finally:
        if before is None:
            os.environ.pop("FORUM_INSTANCE_PATH", None)
        else:
            os.environ["FORUM_INSTANCE_PATH"] = before
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def context(unit_app: Flask) -> Iterator[Flask]:
    """The app's context without touching the tables (for tests that write nothing)."""
    with unit_app.app_context():
        yield unit_app
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def app(unit_app: Flask, monkeypatch) -> Iterator[Flask]:
    # No Redis: a commit leaves the mails it queued in the outbox table, as with Redis down.
    monkeypatch.setattr(outbox, "request_flush", lambda check_waiting=False: True)
    with unit_app.app_context():
        empty_tables()
        yield unit_app
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def make_round(app):
    """A review round of the test forum with 5 seats: ``make_round(seats=2, max_per_state=1)``."""
    counter = {"n": 0}

    def factory(**overrides) -> Round:
        counter["n"] += 1
        forum = db.session.query(Forum).filter_by(slug="unit-forum").one_or_none()
        if forum is None:
            forum = Forum(slug="unit-forum", title="Testforum", summary="", description="")
            db.session.add(forum)
        now = utcnow()
        values = {
            "slug": f"unit-{counter['n']}",
            "title": f"Runde {counter['n']}",
            "seats": 5,
            "opens": now - timedelta(days=1),
            "closes": now + timedelta(days=30),
            "admission": "review",
            "states": ["DE-BY", "DE-BW"],
            "roles": ["mayor", "deputy"],
            "body_types": ["city", "municipality", "district", "private"],
        }
        values.update(overrides)
        rnd = Round(forum=forum, **values)
        db.session.add(rnd)
        db.session.commit()
        return rnd

    return factory


@pytest.fixture
def make_application(app):
    """A confirmed application (``submitted``) made through the lifecycle:
    ``make_application(rnd, state="DE-BW", organisation="Stadt A")``
    (``tests/helpers/applications.py``, as in the full suite)."""
    return application_factory()


@pytest.fixture
def write(app):
    """Call a service function as a write path does, then commit: ``write(decide, a, "admit")``."""

    def do(fn, *args, **kwargs):
        result = fn(*args, **kwargs)
        db.session.commit()
        return result

    return do
