"""Fixtures: a real Redis server, a real SMTP server (aiosmtpd), SQLite or PostgreSQL.

The database comes from ``FORUM_TEST_DATABASE_URL`` (the test command sets it for the
PostgreSQL run); without it, a SQLite file in a temporary folder. The schema is made once per
session with the migrations (``flask db upgrade``); each test starts from empty tables.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import redis as redis_lib
from aiosmtpd.controller import Controller
from flask import g
from flask.testing import FlaskClient
from flask_babel import refresh as babel_refresh
from rq import SimpleWorker
from sqlalchemy import text

from app import create_app
from forum.db import set_read_only, utcnow
from forum.extensions import db
from forum.models import Forum, Meeting, Round

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Redis ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (the test command installs it)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis_lib.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis_lib.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


# --- SMTP ----------------------------------------------------------------------------------


class SMTPSink:
    """Records every message the real aiosmtpd server accepts; can be told to fail."""

    def __init__(self):
        self.messages: list = []
        self.envelopes: list = []
        self.fail_with: str | None = None  # e.g. "451 4.3.0 try again later"
        self.peers: list = []  # the client's (host, port) per accepted mail: one per connection

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.fail_with:
            return self.fail_with
        self.envelopes.append(envelope)
        self.peers.append(session.peer)
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def clear(self):
        self.messages.clear()
        self.envelopes.clear()


class SMTPServer:
    def __init__(self):
        self.sink = SMTPSink()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self):
        # aiosmtpd is strict: lines over 1000 octets are refused ("500 Line too long").
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    # conveniences
    @property
    def messages(self):
        return self.sink.messages

    def to(self, address):
        return self.sink.to(address)


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


# --- database ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("FORUM_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


@pytest.fixture(scope="session")
def _schema(database_url, redis_url, tmp_path_factory):
    from flask_migrate import downgrade, upgrade

    app = create_app(_config(database_url, redis_url, 1, tmp_path_factory.mktemp("inst")))
    with app.app_context():
        if database_url.startswith("postgresql"):
            db.session.execute(text("DROP SCHEMA public CASCADE"))
            db.session.execute(text("CREATE SCHEMA public"))
            db.session.commit()
        upgrade()
        if os.environ.get("FORUM_TEST_DOWNGRADE", "1") == "1":
            downgrade(revision="base")
            upgrade()
        db.engine.dispose()
    return True


def _config(database_url, redis_url, smtp_port, _instance=None) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RQ_CONNECTION": redis_url,
        "RQ_ASYNC": True,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_port,
        "MAIL_TIMEOUT": 5,
        "MAIL_RETRY_INTERVALS": [1, 2, 3],
        "PUBLIC_BASE_URL": "https://forum.example.org",
        "RATELIMIT_ENABLED": False,
        "OUTBOX_FLUSH_DEBOUNCE_MS": 0,  # every commit asks at once (run_jobs finds the job)
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": None,
        "DEV_MAIL_INBOX": True,
    }


def _empty_tables():
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


@pytest.fixture
def make_app(_schema, database_url, redis_url, smtp, tmp_path):
    """Build an app; tests that need other settings pass overrides."""
    apps = []

    def factory(**overrides):
        config = _config(database_url, redis_url, smtp.port, tmp_path)
        config.update(overrides)
        os.environ["FORUM_INSTANCE_PATH"] = str(tmp_path / "instance")
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app, redis_url):
    app = make_app()
    redis_lib.Redis.from_url(redis_url).flushdb()
    with app.app_context():
        _empty_tables()
    ctx = app.app_context()
    ctx.push()
    # The test body only inspects: on SQLite its reads must not hold the write lock that the
    # worker (run in its own app context) needs.
    set_read_only(True)
    yield app
    set_read_only(False)
    db.session.remove()
    ctx.pop()


class IsolatedClient(FlaskClient):
    """The test body and its requests share one app context (and so one session). Each
    request starts and ends with a fresh transaction, as it would in production, and the
    test body sees what the request committed."""

    def open(self, *args, **kwargs):
        db.session.commit()
        # Flask-Login caches the user in the app context's ``g``; two clients in one test
        # must not see each other's login.
        g.pop("_login_user", None)
        babel_refresh()  # likewise Flask-Babel's cached locale
        try:
            return super().open(*args, **kwargs)
        finally:
            g.pop("_login_user", None)
            db.session.rollback()
            db.session.expire_all()


@pytest.fixture
def client(app):
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- jobs ----------------------------------------------------------------------------------


def run_jobs(app, queues=("default", "mail", "bulk"), max_rounds: int = 20) -> int:
    """Run every queued job in this process (RQ's SimpleWorker in the app context, without
    RQ's scheduler: retries are the maintenance run's work)."""
    from forum.extensions import rq

    done = 0
    db.session.commit()  # end the test body's transaction (see IsolatedClient)
    with app.app_context():
        qs = [rq.get_queue(name) for name in queues]
        for _ in range(max_rounds):
            worker = SimpleWorker(qs, connection=qs[0].connection, job_class=qs[0].job_class)
            before = sum(len(q) for q in qs)
            worker.work(burst=True)
            done += before
            if sum(len(q) for q in qs) == 0:
                break
        db.session.remove()
    db.session.expire_all()
    return done


@pytest.fixture
def work(app):
    return lambda **kw: run_jobs(app, **kw)


@pytest.fixture
def write(app):
    """Run service calls (or a command) as a write path would (SQLite: BEGIN IMMEDIATE), then
    commit: ``write(admission.decide, application, "admit")``."""
    from forum.db import reset_read_only

    def do(fn, *args, **kwargs):
        db.session.commit()
        token = set_read_only(False)
        try:
            result = fn(*args, **kwargs)
            db.session.commit()
        finally:
            reset_read_only(token)
        db.session.expire_all()
        return result

    return do


# --- factories -----------------------------------------------------------------------------


@pytest.fixture
def make_round(app):
    counter = {"n": 0}

    def factory(**overrides) -> Round:
        counter["n"] += 1
        n = counter["n"]
        forum = db.session.query(Forum).filter_by(slug="test-forum").one_or_none()
        if forum is None:
            forum = Forum(
                slug="test-forum",
                title="Testforum",
                summary="Zum Testen",
                description="",
                contact_email="team@forum.example.org",
            )
            db.session.add(forum)
        now = utcnow()
        values = dict(
            slug=f"runde-{n}",
            title=f"Runde {n}",
            seats=5,
            opens=now - timedelta(days=1),
            closes=now + timedelta(days=30),
            admission="review",
            auto_promote=True,
            offer_hours=168,
            confirm_hours=48,
            states=["DE-BY", "DE-BW"],
            roles=["lord_mayor", "mayor", "deputy", "head_of_office"],
            body_types=["city", "municipality", "district"],
        )
        values.update(overrides)
        rnd = Round(forum=forum, **values)
        rnd.meetings.append(
            Meeting(
                title="1. Arbeitstreffen",
                starts=now + timedelta(days=60),
                ends=now + timedelta(days=61),
                venue="Nürnberg",
                address="Rathausplatz 2",
            )
        )
        db.session.add(rnd)
        db.session.commit()
        return rnd

    return factory


def application_data(**overrides) -> dict:
    data = {
        "first_name": "Anna",
        "last_name": "Müller",
        "email": "anna.mueller@gemeinde-beispiel.de",
        "phone": "",
        "organisation": "Gemeinde Beispielhausen",
        "body_type": "municipality",
        "state": "DE-BY",
        "role": "mayor",
        "department": "",
        "motivation": "Wir wollen unsere Kommune nachhaltig weiterentwickeln.",
        "challenge": "Bürgerbeteiligung beim Klimaschutzkonzept.",
        "commitment": "y",
        "privacy_consent": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def tmp_dir():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


# --- organizers ----------------------------------------------------------------------------


@pytest.fixture
def make_organizer(app):
    from forum.auth import create_organizer

    def factory(
        email="orga@forum.example.org", password="richtig-langes-passwort", admin=False, forums=()
    ):
        organizer = create_organizer(email, password, is_admin=admin)
        for forum in forums:
            organizer.forums.append(forum)
        db.session.commit()
        return organizer

    return factory


@pytest.fixture
def login(client, make_organizer):
    """Log a test client in as a (new) organizer through the real login page."""

    def do(email="orga@forum.example.org", admin=True, forums=(), as_client=None):
        password = "richtig-langes-passwort"
        make_organizer(email=email, password=password, admin=admin, forums=forums)
        c = as_client or client
        response = c.post("/admin/login", data={"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return c

    return do


# --- review and admission (issue 3) ---------------------------------------------------------


@pytest.fixture
def make_application(app):
    """Store a confirmed application (status ``submitted``) through the lifecycle, without the
    HTTP round trip: ``make_application(rnd, email=..., state=..., organisation=...)``."""
    from registration import lifecycle
    from registration.models import Actor, Application, Status
    from registration.services import normalize_email, normalize_organisation

    counter = {"n": 0}

    def factory(rnd: Round, **overrides) -> Application:
        counter["n"] += 1
        n = counter["n"]
        data = application_data(
            first_name=f"Vorname{n}",
            last_name=f"Nachname{n}",
            email=f"person{n}@gemeinde-{n}.de",
            organisation=f"Gemeinde {n}",
        )
        data.update(overrides)
        now = utcnow()
        application = Application(
            round_id=rnd.id,
            locale=data.pop("locale", "de"),
            first_name=data["first_name"],
            last_name=data["last_name"],
            email=data["email"],
            email_normalized=normalize_email(data["email"]),
            phone=data.get("phone", ""),
            organisation=data["organisation"],
            organisation_normalized=normalize_organisation(data["organisation"]),
            body_type=data["body_type"],
            state=data["state"],
            role=data["role"],
            department=data.get("department", ""),
            motivation=data["motivation"],
            challenge=data["challenge"],
            commitment=True,
            privacy_consent_at=now,
            privacy_version="test",
            created_at=now,
            confirmed_at=now,
        )
        db.session.add(application)
        lifecycle.start(application)
        lifecycle.transition(application, Status.SUBMITTED, Actor.APPLICANT, "bestätigt")
        db.session.commit()
        return application

    return factory


class LiveServer:
    def __init__(self, url: str, proc: subprocess.Popen, log: Path):
        self.url = url
        self.proc = proc
        self.log = log


@pytest.fixture(scope="session")
def live_server(_schema, database_url, redis_url, tmp_path_factory) -> Iterator[LiveServer]:
    """The service under gunicorn with several worker processes and threads, on the test
    database and Redis (real CSRF, rate limits off). Tests share it; the ``app`` fixture
    empties the tables before each test as usual."""
    import signal
    import sys

    import requests

    port = free_port()
    instance = tmp_path_factory.mktemp("live-instance")
    log = instance / "gunicorn.log"
    env = {
        **os.environ,
        "FORUM_SQLALCHEMY_DATABASE_URI": database_url,
        "FORUM_RQ_CONNECTION": redis_url,
        "FORUM_SECRET_KEY": "test-secret",
        "FORUM_RATELIMIT_ENABLED": "false",
        "FORUM_MAIL_PORT": "1",  # the server only queues mail; tests deliver with work()
        # The parallel tests queue dozens of writers on two shared cores: they test the seat
        # limits, not the lock wait, so requests may wait as long as jobs do.
        "FORUM_SQLITE_REQUEST_BUSY_TIMEOUT_MS": "30000",
        "FORUM_POSTGRES_REQUEST_LOCK_TIMEOUT_MS": "30000",
        "FORUM_INSTANCE_PATH": str(instance),
        "FORUM_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "4",
                "--threads",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--chdir",
                str(ROOT),
                "--timeout",
                "60",
                # Test sessions keep connections open between steps; gunicorn's default of 2
                # seconds races with their reuse (connection reset by peer).
                "--keep-alive",
                "120",
                "app:create_app()",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(url + "/healthz", timeout=5).status_code == 200:
                break
        except requests.RequestException:  # not listening yet, or still starting up
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("gunicorn did not start:\n" + log.read_text(errors="replace")[-3000:])
        time.sleep(0.1)
    yield LiveServer(url, proc, log)
    proc.send_signal(signal.SIGINT)  # quick shutdown; SIGTERM would wait for idle keep-alives
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


# --- newsletter: an SMTP sink that starts refusing after N messages ------------------------------


class FlakySMTPSink(SMTPSink):
    """Accepts ``fail_after`` messages, then answers ``fail_answer`` to every further one (until
    ``fail_after`` is set to None). ``after_message(count)`` is called after each accepted
    message, on the server's thread (to act "while a dispatch is running")."""

    def __init__(self):
        super().__init__()
        self.fail_after: int | None = None
        self.fail_answer = "451 4.3.0 Temporary failure, try again later"
        self.after_message = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.fail_after is not None and len(self.messages) >= self.fail_after:
            return self.fail_answer
        answer = await super().handle_DATA(server, session, envelope)
        if self.after_message is not None and answer.startswith("250"):
            self.after_message(len(self.messages))
        return answer


@pytest.fixture
def flaky_smtp(smtp) -> SMTPServer:
    """The ``smtp`` fixture's server (same port), restarted with a :class:`FlakySMTPSink`."""
    smtp.stop()
    smtp.sink = FlakySMTPSink()
    smtp.start()
    return smtp
