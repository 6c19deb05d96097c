"""Announcements: the organizer pages, the command, and the dispatch in batches through a real
Redis queue and a real SMTP server: exactly one mail per confirmed subscriber, also when a batch
runs twice or in parallel, when someone unsubscribes during the dispatch, and when the SMTP
server fails in the middle of a batch."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from forum.db import utcnow
from forum.extensions import db, rq
from forum.newsletter import announcements as ann
from forum.newsletter.jobs import send_batch
from forum.newsletter.models import (
    Announcement,
    Delivery,
    Subscriber,
)
from forum.newsletter.tokens import Purpose, read_token
from tests.helpers.jobs import run_one
from tests.helpers.newsletter import add_subscribers, announce, recipients

UNSUBSCRIBE = re.compile(
    r"https://forum\.example\.org/newsletter/unsubscribe/([A-Za-z0-9_.\-]+)(?:\?lang=en)?"
)


def make_due() -> None:
    """Time passes: every retry is due now."""
    db.session.execute(
        update(Delivery)
        .where(Delivery.next_attempt_at.is_not(None))
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def deliveries(announcement_id: int) -> Counter:
    db.session.commit()
    return Counter(
        dict(
            db.session.execute(
                select(Delivery.status, func.count(Delivery.id))
                .where(Delivery.announcement_id == announcement_id)
                .group_by(Delivery.status)
            ).all()
        )
    )


def longest_line(smtp) -> int:
    return max(
        len(line) for env in smtp.sink.envelopes for line in env.original_content.split(b"\r\n")
    )


# --- the dispatch --------------------------------------------------------------------------------


def test_dispatch_reaches_each_confirmed_subscriber_exactly_once(
    app, runner, make_round, smtp, work
):
    app.config["NEWSLETTER_BATCH_SIZE"] = 100
    rnd = make_round(title="Staffel 2027", seats=24)
    confirmed = add_subscribers(240, pending=30, unsubscribed=30)

    announcement_id = announce(runner, rnd)
    work()

    got = recipients(smtp)
    assert set(got) == set(confirmed)
    assert set(got.values()) == {1}
    assert deliveries(announcement_id) == {"sent": 240}
    announcement = db.session.get(Announcement, announcement_id)
    assert announcement.status == "done" and announcement.total == 240
    assert longest_line(smtp) < 998

    for mail in smtp.messages[:20]:
        assert mail["Subject"] == f"Neue Runde: Staffel 2027 – {rnd.forum.title}"
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert mail["List-Id"].endswith("<newsletter.forum.example.org>")
        header = UNSUBSCRIBE.search(mail["List-Unsubscribe"]).group(0)
        assert mail["List-Unsubscribe"].startswith(f"<{header}>")
        text = mail.get_body(preferencelist=("plain",)).get_content()
        html = mail.get_body(preferencelist=("html",)).get_content()
        assert header in text and f'href="{header}"' in html  # the link, in both parts
        assert "Staffel 2027" in text and "24 Plätze" in text
        # Personal: the token names this recipient.
        public_id = read_token(Purpose.UNSUBSCRIBE, UNSUBSCRIBE.search(text).group(1))
        owner = db.session.scalar(select(Subscriber).where(Subscriber.public_id == public_id))
        assert owner.email == str(mail["To"])
    # No English text was written: the English subscribers get the German mail in its German
    # frame (tests/test_mail_identity.py covers bilingual announcements).
    assert not any("Unsubscribe" in m.get_body(("plain",)).get_content() for m in smtp.messages)


def test_a_batch_run_twice_or_in_parallel_sends_nobody_a_second_mail(
    app, runner, make_round, smtp, work
):
    rnd = make_round()
    confirmed = add_subscribers(60)
    announcement_id = announce(runner, rnd)
    run_one(app)  # the dispatch job: deliveries made, one batch job queued
    [job] = rq.get_queue("bulk").jobs
    assert job.func_name.endswith("send_batch")
    args = job.args

    def run_batch():
        with app.app_context():
            try:
                send_batch(*args)
            finally:
                db.session.remove()

    db.session.commit()
    threads = [threading.Thread(target=run_batch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    run_batch()  # once more, after both
    work()  # and the queued original
    got = recipients(smtp)
    assert set(got) == set(confirmed) and set(got.values()) == {1}
    assert deliveries(announcement_id) == {"sent": 60}


def test_unsubscribing_during_a_running_dispatch_stops_the_mail(
    app, runner, make_round, flaky_smtp, work, client
):
    app.config["NEWSLETTER_BATCH_SIZE"] = 25
    rnd = make_round()
    confirmed = add_subscribers(60)
    ids = dict(db.session.execute(select(Subscriber.email, Subscriber.public_id)).all())
    same_batch, later_batch = confirmed[15], confirmed[45]
    problems = []

    def unsubscribe_while_sending(count: int) -> None:
        # Runs on the SMTP server's thread while the worker waits for its answer to mail 5.
        if count != 5:
            return
        from forum.newsletter.tokens import unsubscribe_url

        try:
            with app.app_context():
                fresh = app.test_client(use_cookies=False)
                for address in (same_batch, later_batch):
                    path = unsubscribe_url(ids[address]).removeprefix("https://forum.example.org")
                    response = fresh.post(
                        path,
                        data=b"List-Unsubscribe=One-Click",
                        content_type="application/x-www-form-urlencoded",
                    )
                    assert response.status_code == 200
                db.session.remove()
        except Exception as exc:  # reported below, not lost on the server thread
            problems.append(exc)

    flaky_smtp.sink.after_message = unsubscribe_while_sending
    announcement_id = announce(runner, rnd)
    work()

    assert problems == []
    got = recipients(flaky_smtp)
    assert same_batch not in got and later_batch not in got
    assert set(got) == set(confirmed) - {same_batch, later_batch}
    assert set(got.values()) == {1}
    assert deliveries(announcement_id) == {"sent": 58, "skipped": 2}


def test_smtp_failing_in_the_middle_of_a_batch_is_retried_and_delivers_the_rest_once(
    app, runner, make_round, flaky_smtp, work, login, client
):
    app.config["MAIL_RETRY_INTERVALS"] = [60]
    rnd = make_round()
    confirmed = add_subscribers(80)
    flaky_smtp.sink.fail_after = 30  # then: 451 for every further mail
    announcement_id = announce(runner, rnd)
    work()

    assert len(flaky_smtp.messages) == 30
    assert deliveries(announcement_id) == {"sent": 30, "deferred": 50}
    delivery = db.session.scalar(select(Delivery).where(Delivery.status == "deferred"))
    assert delivery.last_error.startswith("451") and delivery.attempts == 1

    login(forums=[rnd.forum], admin=False)
    page = client.get(f"/admin/newsletter/announcements/{announcement_id}")
    html = page.get_data(as_text=True)
    assert "451 4.3.0 Temporary failure" in html and 'data-delivery="deferred"' in html
    progress = client.get(f"/admin/newsletter/announcements/{announcement_id}/progress.json").json
    assert progress["sent"] == 30 and progress["deferred"] == 50 and not progress["done"]

    flaky_smtp.sink.fail_after = None
    assert "newsletter_resume: 0" in runner.invoke(args=["maintenance", "run"]).output
    make_due()  # the retry interval has passed
    assert "newsletter_resume: 1" in runner.invoke(args=["maintenance", "run"]).output
    work()  # a worker without RQ's scheduler
    got = recipients(flaky_smtp)
    assert set(got) == set(confirmed) and set(got.values()) == {1}
    assert deliveries(announcement_id) == {"sent": 80}
    assert db.session.get(Announcement, announcement_id).status == "done"


def test_permanent_failures_are_listed_suppressed_and_skipped_on_retry(
    app, runner, make_round, flaky_smtp, work, login, client
):
    from forum.models import MailEvent, Suppression

    rnd = make_round()
    confirmed = add_subscribers(10)
    flaky_smtp.sink.fail_after = 6
    flaky_smtp.sink.fail_answer = "550 5.7.1 Message rejected as spam"
    announcement_id = announce(runner, rnd)
    work()
    assert deliveries(announcement_id) == {"sent": 6, "failed": 4}
    assert db.session.get(Announcement, announcement_id).status == "done"
    # A 5xx at send time puts the address on the suppression list and unsubscribes it.
    refused = set(confirmed) - set(recipients(flaky_smtp))
    assert set(db.session.scalars(select(Suppression.email_normalized))) == refused
    assert set(db.session.scalars(select(MailEvent.email_normalized))) == refused
    statuses = db.session.scalars(select(Subscriber.status).where(Subscriber.email.in_(refused)))
    assert set(statuses) == {"unsubscribed"}

    login(forums=[rnd.forum], admin=False)
    html = client.get(f"/admin/newsletter/announcements/{announcement_id}").get_data(as_text=True)
    assert html.count('data-delivery="failed"') == 4 and "550 5.7.1 Message rejected" in html
    flaky_smtp.sink.fail_after = None
    response = client.post(f"/admin/newsletter/announcements/{announcement_id}/retry")
    assert response.status_code == 302
    work()
    got = recipients(flaky_smtp)
    assert set(got) == set(confirmed) - refused and set(got.values()) == {1}
    assert deliveries(announcement_id) == {"sent": 6, "skipped": 4}


def test_smtp_server_down_delays_the_dispatch_and_loses_nothing(
    app, runner, make_round, smtp, work
):
    rnd = make_round()
    confirmed = add_subscribers(12)
    smtp.stop()
    announcement_id = announce(runner, rnd)
    work()
    # The first delivery counts the refused connection, the others were not tried.
    assert deliveries(announcement_id) == {"deferred": 1, "queued": 11}
    assert "SMTP" in db.session.get(Announcement, announcement_id).last_error
    smtp.start()
    make_due()
    assert "newsletter_resume: 1" in runner.invoke(args=["maintenance", "run"]).output
    work()
    assert set(recipients(smtp)) == set(confirmed) and len(smtp.messages) == 12


def test_rate_limit_spaces_the_mails(app, runner, make_round, smtp, work):
    app.config["NEWSLETTER_RATE_PER_MINUTE"] = 600  # one mail per 0.1 s, over all workers
    rnd = make_round()
    add_subscribers(8)
    announce(runner, rnd)
    started = time.monotonic()
    work()
    elapsed = time.monotonic() - started
    assert len(smtp.messages) == 8
    assert elapsed >= 0.65


def test_maintenance_run_starts_a_dispatch_whose_job_was_lost(app, runner, make_round, smtp, work):
    from datetime import timedelta

    rnd = make_round()
    add_subscribers(5)
    announcement = ann.create_announcement(rnd, "Betreff", "Text", None)
    db.session.flush()
    ann.request_dispatch(announcement)
    db.session.commit()  # committed, but never enqueued (as if Redis was down)
    work()
    assert smtp.messages == []
    db.session.execute(update(Announcement).values(dispatched_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    result = runner.invoke(args=["maintenance", "run"])
    assert "newsletter_resume: 1" in result.output
    work()
    assert len(smtp.messages) == 5


# --- the command ---------------------------------------------------------------------------------


def test_announce_command_prints_the_id_and_needs_again_for_a_second_time(runner, make_round, smtp):
    rnd = make_round()
    first = announce(runner, rnd)
    assert db.session.get(Announcement, first).status == "queued"
    again = runner.invoke(args=["newsletter", "announce", rnd.slug])
    assert again.exit_code == 1 and "--again" in again.output
    assert db.session.scalar(select(func.count(Announcement.id))) == 1
    second = announce(runner, rnd, "--again")
    assert second != first
    unknown = runner.invoke(args=["newsletter", "announce", "gibt-es-nicht"])
    assert unknown.exit_code == 1 and "no round" in unknown.output


# --- the organizer pages -------------------------------------------------------------------------


def test_compose_preview_test_and_dispatch_in_the_organizer_pages(
    app, client, login, make_round, smtp, work
):
    rnd = make_round(title="Staffel 2027", seats=24)
    confirmed = add_subscribers(3)
    login(forums=[rnd.forum], admin=False)

    assert "/admin/newsletter/" in client.get("/admin/").get_data(as_text=True)
    overview = client.get("/admin/newsletter/").get_data(as_text=True)
    assert f"/admin/newsletter/rounds/{rnd.slug}/announce" in overview
    assert 'data-count="confirmed">3<' in overview
    page = client.get(f"/admin/newsletter/rounds/{rnd.slug}/announce")
    assert page.status_code == 200
    form = page.get_data(as_text=True)
    for expected in (
        "Staffel 2027",
        "24 Plätze",
        "1. Arbeitstreffen",
        "Nürnberg",
        "Rathausplatz 2",
        "Bayern",
        "Bürgermeister*in",
        f"https://forum.example.org/rounds/{rnd.slug}/apply",
        str(rnd.closes.year),
    ):
        assert expected in form, expected

    body = "Liebe Kolleg*innen,\n\n" + "Ü" * 3000 + "\n\nhttps://forum.example.org/x"
    response = client.post(
        f"/admin/newsletter/rounds/{rnd.slug}/announce",
        data={"subject": "Neue Runde: Staffel 2027", "body": body},
    )
    assert response.status_code == 302
    path = response.headers["Location"]
    announcement_id = int(path.rstrip("/").rsplit("/", 1)[1])
    page = client.get(path).get_data(as_text=True)
    assert "Liebe Kolleg*innen" in page and "List-Unsubscribe" in page
    preview = client.get(f"{path}/preview.html")
    assert (
        preview.status_code == 200
        and "frame-ancestors 'self'" in preview.headers["Content-Security-Policy"]
    )
    assert '<a href="https://forum.example.org/x">' in preview.get_data(as_text=True)
    assert client.get(f"{path}/progress.json").json["status"] == "draft"

    # Bad input: no 500, nothing changes.
    bad = client.post(f"{path}/edit", data={"subject": "", "body": "x"})
    assert bad.status_code == 422
    assert (
        client.post(f"{path}/edit", data={"subject": "a\r\nBcc: x", "body": "x"}).status_code == 422
    )

    assert client.post(f"{path}/test").status_code == 302
    work()
    [test_mail] = smtp.messages
    assert test_mail["To"] == "orga@forum.example.org"
    assert test_mail["Subject"] == "[Test] Neue Runde: Staffel 2027"
    smtp.sink.clear()

    assert client.post(f"{path}/dispatch").status_code == 302
    work()
    assert set(recipients(smtp)) == set(confirmed) and len(smtp.messages) == 3
    assert longest_line(smtp) < 998
    assert client.get(f"{path}/progress.json").json == {
        "status": "done",
        "total": 3,
        "sent": 3,
        "failed": 0,
        "deferred": 0,
        "skipped": 0,
        "queued": 0,
        "percent": 100,
        "done": True,
        "last_error": None,
    }
    assert client.post(f"{path}/edit", data={"subject": "x", "body": "y"}).status_code == 302
    assert db.session.get(Announcement, announcement_id).subject == "Neue Runde: Staffel 2027"

    # Announcing the same round again asks for a confirmation in the page.
    response = client.post(
        f"/admin/newsletter/rounds/{rnd.slug}/announce", data={"subject": "Erinnerung", "body": "B"}
    )
    second = response.headers["Location"]
    page = client.get(second).get_data(as_text=True)
    assert 'name="again"' in page
    refused = client.post(f"{second}/dispatch", follow_redirects=True)
    assert "Diese Runde wurde schon angekündigt." in refused.get_data(as_text=True)
    second_id = int(second.rsplit("/", 1)[1])
    assert db.session.get(Announcement, second_id).status == "draft"
    assert client.post(f"{second}/dispatch", data={"again": "y"}).status_code == 302
    work()
    assert len(smtp.messages) == 6


def test_organizer_pages_are_closed_to_other_forums_and_to_visitors(
    app, client, login, make_round, runner
):
    rnd = make_round()
    announcement_id = announce(runner, rnd)
    assert client.get(f"/admin/newsletter/announcements/{announcement_id}").status_code == 302
    login(admin=False)  # an organizer without this forum
    for path in (
        f"/admin/newsletter/rounds/{rnd.slug}/announce",
        f"/admin/newsletter/announcements/{announcement_id}",
        f"/admin/newsletter/announcements/{announcement_id}/progress.json",
        "/admin/newsletter/announcements/999999",
    ):
        assert client.get(path).status_code == 404, path
    assert (
        client.post(f"/admin/newsletter/announcements/{announcement_id}/retry").status_code == 404
    )


def test_organizer_forms_need_csrf_tokens(make_app, make_round, make_organizer, smtp):
    rnd = make_round()
    make_organizer(forums=[rnd.forum])
    strict = make_app(WTF_CSRF_ENABLED=True)
    with strict.app_context():
        c = strict.test_client()
        page = c.get("/admin/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        referer = {"Referer": "https://localhost/admin/login"}
        c.post(
            "/admin/login",
            data={
                "email": "orga@forum.example.org",
                "password": "richtig-langes-passwort",
                "csrf_token": token,
            },
            headers=referer,
        )
        response = c.post(
            f"/admin/newsletter/rounds/{rnd.slug}/announce",
            data={"subject": "x", "body": "y"},
            headers=referer,
        )
        assert response.status_code == 400
        db.session.commit()
        assert db.session.scalar(select(func.count(Announcement.id))) == 0


@pytest.mark.parametrize("path", ["/static/newsletter-progress.js"])
def test_progress_script_is_self_hosted(client, path):
    response = client.get(path)
    assert response.status_code == 200 and b"data-progress-url" in response.data


def test_fast_messages_equal_the_ordinary_ones(app):
    """The batch's personalised messages (built once, filled in per recipient) carry the same
    headers and bodies as :func:`forum.mail.build_message` builds, and keep lines short."""
    from email import message_from_bytes, policy

    from forum.mail import MailHeaderError, build_message
    from forum.newsletter.bulk import MessageFactory
    from forum.newsletter.render import list_headers, render_template_for_batch
    from forum.newsletter.tokens import unsubscribe_url

    body = "Grüße an alle Bürgermeister*innen!\n\n" + "x" * 2500 + " =ende.\n.\nhttps://a.de/?q=1"
    template = render_template_for_batch("Neue Runde: Größe – „Test“", body, "de")
    factory = MessageFactory(template)
    for address, public_id in (("a.b@kommune.de", "abc123"), ("x@xn--brgermeister-dlb.de", "d4")):
        envelope = factory.build(address, public_id)
        fast = message_from_bytes(envelope.data, policy=policy.default)
        # The token carries a timestamp: take the fast message's own link (it must name this
        # subscriber), so that a second passing between the two builds does not matter.
        url = UNSUBSCRIBE.search(str(fast["List-Unsubscribe"])).group(0)
        assert read_token(Purpose.UNSUBSCRIBE, url.rsplit("/", 1)[1]) == public_id
        assert url.startswith(unsubscribe_url(public_id).rsplit("/", 1)[0])
        ordinary = build_message(
            address,
            type(template)(
                subject=template.subject,
                text=template.text.replace("NEWSLETTERUNSUBSCRIBEURLPLACEHOLDER", url),
                html=template.html.replace("NEWSLETTERUNSUBSCRIBEURLPLACEHOLDER", url),
                headers=list_headers(url),
            ),
        )
        slow = message_from_bytes(ordinary.as_bytes(), policy=policy.default)
        for name in (
            "Subject",
            "From",
            "To",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "List-Id",
        ):
            assert str(fast[name]) == str(slow[name]), name
        for kind in ("plain", "html"):
            assert (
                fast.get_body(preferencelist=(kind,)).get_content()
                == slow.get_body(preferencelist=(kind,)).get_content()
            )
        assert url in fast.get_body(preferencelist=("plain",)).get_content()
        assert max(len(line) for line in envelope.data.split(b"\r\n")) < 998
        assert envelope.recipient == address
    first = factory.build("x@kommune.de", "p1").data
    second = factory.build("x@kommune.de", "p1").data
    assert message_from_bytes(first)["Message-ID"] != message_from_bytes(second)["Message-ID"]
    for bad in ("x@kommune.de\r\nBcc: y@z.de", "jürgen@kommune.de"):
        with pytest.raises(MailHeaderError, match="refusing"):
            factory.build(bad, "p1")


def test_resume_waits_for_a_live_claim_and_resumes_a_dead_one(app, runner, make_round, smtp):
    """A worker killed mid-batch leaves one delivery claimed: the maintenance run resumes the
    announcement once that claim has expired, not before, and not while a batch waits."""
    rnd = make_round()
    add_subscribers(5)
    announcement_id = announce(runner, rnd)
    run_one(app)  # the dispatch: deliveries made, one batch queued
    queue = rq.get_queue("bulk")
    assert "newsletter_resume: 0" in runner.invoke(args=["maintenance", "run"]).output
    queue.empty()  # Redis lost the batch (or its worker took it and was killed)
    first = db.session.scalar(select(func.min(Delivery.id)))
    db.session.execute(
        update(Delivery)
        .where(Delivery.id == first)
        .values(claimed_until=utcnow() + timedelta(seconds=60), attempts=1)
    )
    db.session.commit()
    assert "newsletter_resume: 0" in runner.invoke(args=["maintenance", "run"]).output
    db.session.execute(update(Delivery).values(claimed_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert "newsletter_resume: 1" in runner.invoke(args=["maintenance", "run"]).output
    run_one(app)
    assert deliveries(announcement_id) == {"sent": 5}
    assert len(smtp.messages) == 5
