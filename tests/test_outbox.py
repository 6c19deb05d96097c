"""The mail pipeline loses nothing: Redis down, SMTP down, jobs run twice, bad headers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from forum.db import utcnow
from forum.extensions import db, rq
from forum.mail import MailHeaderError, RenderedMail, build_message
from forum.maintenance import run_maintenance
from forum.models import OutboxMessage
from forum.outbox import deliver_message, queue_mail
from registration.models import Application
from tests.helpers import application_data, free_port
from tests.helpers.mail import mail_context


@pytest.mark.parametrize("rate_limits", [False, True])
def test_redis_down_apply_still_works_and_sweep_delivers(
    make_app, app, client, make_round, smtp, runner, work, rate_limits
):
    rnd = make_round()
    down = make_app(
        RQ_CONNECTION=f"redis://127.0.0.1:{free_port()}/0", RATELIMIT_ENABLED=rate_limits
    )
    response = down.test_client().post(f"/rounds/{rnd.slug}/apply", data=application_data())
    assert response.status_code == 302  # the applicant sees the normal page
    page = down.test_client().get(response.headers["Location"])
    assert "Postfach" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Application)).status == "pending_email"
    message = db.session.scalar(select(OutboxMessage))
    assert message.sent_at is None
    assert work() == 0 and smtp.messages == []  # nothing reached the queue

    # Redis is back: the maintenance run sweeps the outbox.
    result = runner.invoke(args=["maintenance", "run"])
    assert "outbox_enqueued: 1" in result.output
    work()
    assert len(smtp.messages) == 1
    # Sweeping again changes nothing: the row is sent.
    assert "outbox_enqueued: 0" in runner.invoke(args=["maintenance", "run"]).output
    work()
    assert len(smtp.messages) == 1


def test_smtp_down_then_back_delivers_once(client, make_round, smtp, runner, work, write):
    rnd = make_round()
    smtp.stop()
    client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
    work()
    message = db.session.scalar(select(OutboxMessage))
    assert message.sent_at is None and message.failed_at is None
    assert message.attempts == 1
    assert "Connection refused" in message.last_error or "Errno" in message.last_error

    smtp.start()
    result = runner.invoke(args=["maintenance", "run"])
    assert "outbox_enqueued: 1" in result.output
    work()
    assert len(smtp.messages) == 1
    # The scheduled sweep later finds nothing due.
    assert write(run_maintenance)["outbox_enqueued"] == 0
    work()
    assert len(smtp.messages) == 1
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).sent_at is not None


def test_temporary_smtp_refusal_is_retried_when_due_without_rq_scheduler(
    app, client, make_round, smtp, work, write
):
    app.config["MAIL_RETRY_INTERVALS"] = [60]
    rnd = make_round()
    smtp.sink.fail_with = "451 4.3.0 Bitte später erneut versuchen"
    client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
    work()
    assert smtp.messages == []
    message = db.session.scalar(select(OutboxMessage))
    assert "451" in message.last_error and message.failed_at is None
    assert message.next_attempt_at is not None and message.attempts == 1
    smtp.sink.fail_with = None
    # The scheduled sweep (rq cron) waits for the retry to be due ...
    assert write(run_maintenance)["outbox_enqueued"] == 0
    work()
    assert smtp.messages == []
    db.session.execute(
        update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    # ... and then a flush goes to a worker that runs without RQ's scheduler.
    assert write(run_maintenance)["outbox_enqueued"] == 1
    work()
    assert len(smtp.messages) == 1
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).attempts == 2


def test_mails_queued_together_share_one_job_and_one_connection(app, smtp, work):
    for n in range(30):
        queue_mail(f"p{n}@gemeinde.de", "application_submitted", "de", mail_context())
        db.session.commit()  # thirty transactions, as thirty requests would
    assert len(rq.get_queue("mail")) == 1  # one flush job waits for all of them
    work()
    assert len(smtp.messages) == 30
    assert len(set(smtp.sink.peers)) == 1  # over one SMTP connection


def test_permanent_refusal_marks_failed(app, smtp, work):
    smtp.sink.fail_with = "550 5.1.1 Unbekannte Adresse"
    queue_mail("x@gemeinde.de", "application_submitted", "de", mail_context())
    db.session.commit()
    work()
    message = db.session.scalar(select(OutboxMessage))
    assert message.failed_at is not None and message.sent_at is None
    assert "550" in message.last_error


def test_job_run_twice_sends_once(app, smtp, work):
    queue_mail("x@gemeinde.de", "application_submitted", "en", mail_context())
    db.session.commit()
    message_id = db.session.scalar(select(OutboxMessage.id))
    work()
    assert deliver_message(message_id) == "skipped"
    assert len(smtp.messages) == 1
    assert smtp.messages[0]["Subject"] == "Application received: Runde X"


@pytest.mark.parametrize("bad", ["Betreff\r\nBcc: opfer@example.org", "a\nb"])
def test_header_injection_is_refused(app, bad):
    with pytest.raises(MailHeaderError):
        build_message("x@gemeinde.de", RenderedMail(subject=bad, text="t", html="<p>t</p>"))
    with pytest.raises(MailHeaderError):
        build_message(
            "x@gemeinde.de",
            RenderedMail(subject="ok", text="t", html="h", headers={"X-Test": bad}),
        )


def test_broken_template_fails_permanently_and_says_why(app, smtp, work):
    queue_mail("x@gemeinde.de", "application_submitted", "de", {"first_name": "Only"})
    db.session.commit()
    work()
    message = db.session.scalar(select(OutboxMessage))
    assert message.failed_at is not None and message.sent_at is None
    assert "UndefinedError" in message.last_error
    assert smtp.messages == []


def test_transactional_mail_headers(app, smtp, work):
    queue_mail("x@gemeinde.de", "application_submitted", "de", mail_context())
    db.session.commit()
    work()
    mail = smtp.messages[0]
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Message-ID"] and mail["Date"]
    assert mail.get_body(preferencelist=("plain",)) and mail.get_body(preferencelist=("html",))


def test_rolled_back_savepoint_keeps_earlier_mail_enqueued(app, smtp, work):
    queue_mail("x@gemeinde.de", "application_submitted", "de", mail_context())
    db.session.flush()
    try:
        with db.session.begin_nested():
            queue_mail("y@gemeinde.de", "application_submitted", "de", mail_context())
            db.session.flush()
            raise RuntimeError("the savepoint fails")
    except RuntimeError:
        pass
    db.session.commit()
    work()
    assert [m["To"] for m in smtp.messages] == ["x@gemeinde.de"]


def test_rolled_back_transaction_enqueues_nothing(app, smtp, work):
    queue_mail("x@gemeinde.de", "application_submitted", "de", mail_context())
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert work() == 0
    assert smtp.messages == []


def test_anonymised_addresses_are_never_mailed(app, smtp, work):
    assert queue_mail("deleted-7@invalid", "application_submitted", "de", mail_context()) is None
    assert queue_mail("x@deleted.invalid", "application_submitted", "de", mail_context()) is None
    db.session.commit()
    assert db.session.scalar(select(OutboxMessage)) is None
