"""``flask --app app doctor`` with things up and down: a real Redis, SMTP server, database,
RQ worker and cron scheduler (started as processes, as in production), then stopped."""

from __future__ import annotations

import os
import subprocess
import sys

import redis as redis_lib
from rq import Worker
from rq.cron import CronScheduler

from tests.helpers import ROOT, free_port, wait_until

PRODUCTION = {
    "DEV_MAIL_INBOX": False,
    "SECRET_KEY": "a-long-random-value-for-production-0123456789",
    "PUBLIC_BASE_URL": "https://forum.kommune-beispiel.de",
    "LEGAL_CONTROLLER_NAME": "Netzwerk Kommune e. V.",
    "LEGAL_CONTROLLER_ADDRESS": "Rathausplatz 2, 90403 Nürnberg",
    "LEGAL_CONTROLLER_EMAIL": "kontakt@netzwerk-kommune.de",
    "ACCESSIBILITY_CONTACT_EMAIL": "barrieren@netzwerk-kommune.de",
}


def doctor(app):
    result = app.test_cli_runner().invoke(args=["doctor"])
    return result.exit_code, result.output


def start(args, database_url, redis_url, tmp_path):
    env = {
        **os.environ,
        "FORUM_SQLALCHEMY_DATABASE_URI": database_url,
        "FORUM_RQ_CONNECTION": redis_url,
        "FORUM_SECRET_KEY": "test-secret",
        "FORUM_INSTANCE_PATH": str(tmp_path / "proc-instance"),
    }
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    return subprocess.Popen(
        flask + args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc):
    proc.terminate()
    proc.wait(30)


def test_doctor_with_everything_up_then_workers_and_smtp_down(
    make_app, redis_url, database_url, smtp, tmp_path
):
    app = make_app(**PRODUCTION)
    connection = redis_lib.Redis.from_url(redis_url)
    connection.flushdb()
    worker = start(["rq", "worker", "default", "mail", "bulk"], database_url, redis_url, tmp_path)
    cron = start(["rq", "cron"], database_url, redis_url, tmp_path)
    try:
        wait_until(lambda: Worker.all(connection=connection), 30, what="the worker to register")
        wait_until(lambda: CronScheduler.all(connection), 30, what="the scheduler to register")
        code, output = doctor(app)
        assert code == 0, output
        assert "Everything looks fine." in output and "FAIL" not in output
        assert "queue 'mail': 1 worker(s)" in output and "1 scheduler(s) alive" in output
        assert "migrations at head" in output
    finally:
        stop(worker)
        stop(cron)
    code, output = doctor(app)
    assert code == 1
    assert "no RQ worker listens on the queue 'mail'" in output
    assert "no RQ cron scheduler is alive" in output
    smtp.stop()
    code, output = doctor(app)
    assert code == 1 and f"the SMTP server at 127.0.0.1:{smtp.port} does not accept us" in output


def test_doctor_names_configuration_database_and_redis_problems(make_app, tmp_path):
    empty_db = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    app = make_app(
        DEV_MAIL_INBOX=False,
        SECRET_KEY="dev-insecure-change-me",
        PUBLIC_BASE_URL="http://localhost:5000",
        SQLALCHEMY_DATABASE_URI=empty_db,
        RQ_CONNECTION=f"redis://127.0.0.1:{free_port()}/0",
    )
    code, output = doctor(app)
    assert code == 1
    for words in (
        "FORUM_SECRET_KEY is the development value",
        "links in mails must start with https://",
        "FORUM_LEGAL_CONTROLLER_NAME is still the placeholder",
        "the schema is at migration none, the code needs",
        "Run `flask --app app db upgrade`",
        "no answer from Redis",
        "cannot ask Redis about workers",
    ):
        assert words in output, (words, output)
    # In development (the run command's dev inbox) the placeholders are fine.
    dev = make_app(DEV_MAIL_INBOX=True, RQ_CONNECTION=f"redis://127.0.0.1:{free_port()}/0")
    code, output = doctor(dev)
    assert "ok    configuration: settings look right for development" in output
    assert code == 1  # Redis is still down


def test_secret_key_rotation_keeps_old_links_working(make_app, make_round, make_application):
    """docs/production.md: a new SECRET_KEY with the old one in SECRET_KEY_FALLBACKS."""
    from registration.tokens import Purpose, make_token

    application = make_application(make_round())
    old = make_app(SECRET_KEY="the-old-key")
    with old.app_context():
        link = f"/status/{make_token(Purpose.STATUS, application.public_id)}"
        newsletter_link = "/newsletter/unsubscribe/" + newsletter_token("abc123")
    rotated = make_app(SECRET_KEY="the-new-key", SECRET_KEY_FALLBACKS=["the-old-key"])
    forgotten = make_app(SECRET_KEY="the-new-key")
    with rotated.app_context():
        assert rotated.test_client().get(link).status_code == 200
        new_link = f"/status/{make_token(Purpose.STATUS, application.public_id)}"
        assert new_link != link  # new links are signed with the new key
    with forgotten.app_context():
        assert forgotten.test_client().get(link).status_code == 404
        assert forgotten.test_client().get(new_link).status_code == 200
    from forum.newsletter.tokens import Purpose as NP
    from forum.newsletter.tokens import read_token

    with rotated.app_context():
        assert read_token(NP.UNSUBSCRIBE, newsletter_link.rsplit("/", 1)[1]) == "abc123"


def newsletter_token(public_id: str) -> str:
    from forum.newsletter.tokens import Purpose, make_token

    return make_token(Purpose.UNSUBSCRIBE, public_id)
