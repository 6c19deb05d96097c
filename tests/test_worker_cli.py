"""The real Flask-RQ worker (``flask rq worker --burst``, a subprocess per job) delivers the
outbox; the scheduler has the maintenance job registered; the dev inbox shows what the mail
catcher stored."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from forum.extensions import db, rq
from forum.models import OutboxMessage
from tests.helpers import ROOT, application_data
from tests.helpers.jobs import flask_env


def test_flask_rq_worker_delivers(app, client, make_round, smtp, tmp_path):
    rnd = make_round()
    client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
    db.session.commit()
    result = subprocess.run(
        [sys.executable, "-m", "flask", "rq", "worker", "--burst"],
        cwd=ROOT,
        env=flask_env(app, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(smtp.messages) == 1
    db.session.expire_all()
    assert db.session.scalar(select(OutboxMessage.sent_at)) is not None


def test_cron_has_the_maintenance_job(app):
    scheduler = rq.make_cron_scheduler()
    names = [job.func.__name__ for job in scheduler.get_jobs()]
    assert "maintenance_job" in names


def test_dev_inbox_shows_caught_mail(make_app, app, tmp_path):
    import mailbox
    from email.message import EmailMessage

    dev = make_app(DEV_MAIL_INBOX=True)
    box = mailbox.Maildir(str(Path(dev.instance_path) / "devmail"), create=True)
    msg = EmailMessage()
    msg["Subject"] = "Bitte bestätigen Sie Ihre Bewerbung"
    msg["To"] = "anna@gemeinde.de"
    msg["From"] = "noreply@forum.example.org"
    msg["Date"] = "Sat, 21 Nov 2026 12:00:00 +0000"
    msg.set_content("Link: https://forum.example.org/applications/confirm/abc")
    msg.add_alternative("<p>Hallo</p>", subtype="html")
    key = box.add(msg)
    c = dev.test_client()
    inbox = c.get("/dev/mail/")
    assert inbox.status_code == 200
    assert "Bitte bestätigen Sie Ihre Bewerbung" in inbox.get_data(as_text=True)
    page = c.get(f"/dev/mail/{key}")
    assert page.status_code == 200
    assert "applications/confirm/abc" in page.get_data(as_text=True)
    assert c.get("/dev/mail/nope").status_code == 404
    html = c.get(f"/dev/mail/{key}/html")
    assert html.status_code == 200 and "<p>Hallo</p>" in html.get_data(as_text=True)
    assert "sandbox" in html.headers["Content-Security-Policy"]

    prod = make_app(DEV_MAIL_INBOX=False)
    assert prod.test_client().get("/dev/mail/").status_code == 404
