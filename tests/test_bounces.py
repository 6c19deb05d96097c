"""Bounces and complaints with the real SMTP server and the bounce receiver as its own process
(``flask bounces serve``): VERP envelope senders, a hard bounce DSN that suppresses and
unsubscribes, a forged bounce that changes nothing, soft bounces that count, an ARF complaint,
and the import of an mbox with a dozen real-world bounce formats (flufl.bounce's test data)."""

from __future__ import annotations

import mailbox
import re
import smtplib
import socket
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from forum.bounces import read_token, verp_sender
from forum.extensions import db
from forum.models import MailEvent, OutboxMessage, Suppression
from forum.newsletter.models import ConsentRecord, Subscriber
from forum.outbox import queue_mail
from tests.helpers import ROOT, free_port
from tests.helpers.jobs import flask_env
from tests.helpers.mail import mail_context
from tests.helpers.newsletter import announce, recipients, subscribe_and_confirm
from tests.helpers.processes import wait_ready

BOUNCE = "bounces@example.org"
VERP = re.compile(r"^bounces\+([od])(\d+)\.[0-9a-f]{24}@example\.org$")
DATA = Path(__file__).parent / "data" / "bounces"


@pytest.fixture
def verp_app(app):
    app.config["BOUNCE_ADDRESS"] = BOUNCE
    app.config["SOFT_BOUNCE_LIMIT"] = 3
    return app


def dsn(
    to: str,
    original_recipient: str,
    status: str = "5.1.1",
    action: str = "failed",
    message_id: str = "<dsn-1@mx.example.net>",
) -> bytes:
    """A delivery status notification (RFC 3464) as a receiving MTA writes it."""
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        f"To: {to}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {message_id}\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        f"\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
        f"I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {original_recipient}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {status[0]}50 {status} mailbox unavailable\r\n"
        f"\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"To: {original_recipient}\r\nSubject: Neue Runde\r\n"
        f"\r\n--B--\r\n"
    ).encode()


def arf(return_path: str, original_recipient: str) -> bytes:
    """A feedback report (RFC 5965) from a mailbox provider's feedback loop: the original
    message (with our VERP Return-Path) is quoted; the report itself goes to the plain address."""
    return (
        f"From: feedbackloop@provider.example\r\n"
        f"To: {BOUNCE}\r\n"
        f"Subject: FW: Neue Runde\r\n"
        f"Message-ID: <arf-1@provider.example>\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=feedback-report; boundary="F"\r\n'
        f"\r\n--F\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
        f"\r\n--F\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: abuse\r\nUser-Agent: ProviderFBL/1.0\r\nVersion: 1\r\n"
        f"Original-Rcpt-To: {original_recipient}\r\n"
        f"\r\n--F\r\nContent-Type: message/rfc822\r\n\r\n"
        f"Return-Path: <{return_path}>\r\nTo: {original_recipient}\r\nSubject: Neue Runde\r\n"
        f"\r\nHallo\r\n"
        f"\r\n--F--\r\n"
    ).encode()


def envelope_of(smtp, address: str) -> str:
    """The envelope sender of the last mail to ``address``."""
    return [e.mail_from for e in smtp.sink.envelopes if e.rcpt_tos == [address]][-1]


def test_every_mail_has_a_signed_verp_sender(verp_app, smtp, work, runner, make_round):
    queue_mail("x@gemeinde.de", "application_submitted", "de", mail_context())
    db.session.commit()
    work()
    row = db.session.scalar(select(OutboxMessage))
    assert row.sent_at is not None, row.last_error
    sender = smtp.sink.envelopes[0].mail_from
    kind, number = VERP.match(sender).groups()
    message_id = db.session.scalar(select(OutboxMessage.id))
    assert (kind, int(number)) == ("o", message_id)
    assert read_token(sender).item_id == message_id
    assert read_token(sender.upper()).item_id == message_id  # servers that fold the case
    # The header From stays the service's address.
    assert "noreply@" in str(smtp.messages[0]["From"])
    # Another id, or another key, does not verify.
    forged = sender.replace(f"o{number}.", f"o{int(number) + 1}.")
    assert read_token(forged) is None
    verp_app.config["SECRET_KEY"] = "another-key"
    assert read_token(sender) is None
    assert verp_sender("o", message_id) != sender


def test_without_a_bounce_address_the_sender_is_the_from_address(app, smtp, work):
    queue_mail("x@gemeinde.de", "application_submitted", "de", mail_context())
    db.session.commit()
    work()
    assert smtp.sink.envelopes[0].mail_from == "noreply@kommunalforum.example"


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def bounce_server(verp_app, tmp_path):
    port = free_port()
    env = flask_env(verp_app, tmp_path)
    env.update(FORUM_BOUNCE_ADDRESS=BOUNCE, FORUM_SOFT_BOUNCE_LIMIT="3")
    log = tmp_path / "bounces.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "bounces", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_ready(proc, lambda: _listening(port), log, "bounces serve")

    def send(to: str, data: bytes) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as conn:
            conn.sendmail("", [to], data)  # bounces come with the null sender

    yield send
    proc.terminate()
    proc.wait(10)


def test_bounces_and_complaints_through_the_receiver_process(
    verp_app, client, runner, make_round, smtp, work, bounce_server
):
    hard, soft, complaint, fine = (
        "hard@gemeinde-a.de",
        "soft@gemeinde-b.de",
        "complaint@gemeinde-c.de",
        "fine@gemeinde-d.de",
    )
    for address in (hard, soft, complaint, fine):
        subscribe_and_confirm(client, smtp, work, email=address)
    rnd = make_round()
    announce(runner, rnd)
    work()
    assert set(recipients(smtp)) >= {hard, soft, complaint, fine}

    # A forged bounce (a token not signed by us) is accepted by the server and does nothing.
    forged = "bounces+d1.0123456789abcdef01234567@example.org"
    bounce_server(forged, dsn(forged, fine, message_id="<forged@x>"))
    # So does a bounce for someone else's address.
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        bounce_server("postmaster@example.org", dsn("postmaster@example.org", fine))
    db.session.commit()
    assert db.session.scalar(select(MailEvent)) is None
    assert db.session.scalar(select(Suppression)) is None

    # A hard bounce DSN to the VERP address of the newsletter mail.
    to = envelope_of(smtp, hard)
    assert VERP.match(to).group(1) == "d"
    bounce_server(to, dsn(to, hard))
    # Soft bounces count: two do not suppress, the third (SOFT_BOUNCE_LIMIT) does.
    to_soft = envelope_of(smtp, soft)
    for n in range(2):
        bounce_server(to_soft, dsn(to_soft, soft, "4.2.2", "delayed", f"<soft-{n}@mx>"))
    # An ARF complaint.
    bounce_server(BOUNCE, arf(envelope_of(smtp, complaint), complaint))
    db.session.commit()

    events = {(e.email_normalized, e.kind) for e in db.session.scalars(select(MailEvent))}
    assert events == {(hard, "hard_bounce"), (soft, "soft_bounce"), (complaint, "complaint")}
    suppressed = {s.email_normalized: s for s in db.session.scalars(select(Suppression))}
    assert set(suppressed) == {hard, complaint}
    assert "5.1.1" in suppressed[hard].detail

    def subscriber(address):
        return db.session.scalar(select(Subscriber).where(Subscriber.email_normalized == address))

    assert subscriber(hard).status == "unsubscribed" and subscriber(soft).status == "confirmed"
    assert subscriber(complaint).status == "unsubscribed"
    record = db.session.scalar(
        select(ConsentRecord).where(ConsentRecord.subscriber_id == subscriber(hard).id)
    )
    assert record.withdrawn_at is not None and "hard_bounce" in record.withdrawn_reason
    exported = runner.invoke(args=["privacy", "export", hard]).output
    assert "Adresse gesperrt: hard_bounce" in exported  # the consent record says why

    # The same bounce again (same Message-ID) changes nothing.
    bounce_server(to, dsn(to, hard))
    db.session.commit()
    assert len(db.session.scalars(select(MailEvent)).all()) == 4

    # The next announcement skips the suppressed addresses.
    smtp.sink.clear()
    announce(runner, rnd, "--again")
    work()
    got = set(recipients(smtp))
    assert fine in got and soft in got and hard not in got and complaint not in got

    # The third soft bounce suppresses.
    to_soft = envelope_of(smtp, soft)
    bounce_server(to_soft, dsn(to_soft, soft, "4.2.2", "delayed", "<soft-2@mx>"))
    db.session.commit()
    row = db.session.scalar(select(Suppression).where(Suppression.email_normalized == soft))
    assert row is not None and row.reason == "soft_bounces"


def test_import_of_an_mbox_with_a_dozen_real_world_formats_is_idempotent(
    verp_app, runner, smtp, work, tmp_path
):
    samples = sorted(DATA.glob("*.txt"))
    assert len(samples) == 14
    box = mailbox.mbox(str(tmp_path / "bounces.mbox"))
    expected = {}
    for n, sample in enumerate(samples):
        address = f"person{n}@gemeinde-{n}.de"
        message = queue_mail(address, "application_submitted", "de", mail_context())
        db.session.commit()
        msg = message_from_bytes(sample.read_bytes(), policy=policy.compat32)
        del msg["To"]
        msg["To"] = verp_sender("o", message.id)
        box.add(msg)
        temporary = sample.stem in ("simple_03", "dsn_05")
        expected[address] = "soft_bounce" if temporary else "hard_bounce"
    # Not a bounce: an auto-reply to a VERP address; and mail without any token.
    reply = message_from_bytes(
        f"From: a@b.de\r\nTo: {verp_sender('o', 1)}\r\nSubject: Abwesenheitsnotiz\r\n"
        f"Message-ID: <ooo@b.de>\r\nAuto-Submitted: auto-replied\r\n\r\nBin im Urlaub.\r\n".encode()
    )
    box.add(reply)
    box.add(message_from_bytes(b"From: x@y.de\r\nTo: bounces@example.org\r\n\r\nHallo\r\n"))
    box.flush()
    box.close()
    work()  # the mails went out before they bounced

    result = runner.invoke(args=["bounces", "import", str(tmp_path / "bounces.mbox")])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("recorded: 14, duplicate: 0, ignored: 2, error: 0")
    db.session.commit()
    events = {e.email_normalized: e.kind for e in db.session.scalars(select(MailEvent))}
    assert events == expected
    suppressed = set(db.session.scalars(select(Suppression.email_normalized)))
    assert suppressed == {a for a, kind in expected.items() if kind == "hard_bounce"}
    assert len(suppressed) == 12

    again = runner.invoke(args=["bounces", "import", str(tmp_path / "bounces.mbox")])
    assert again.output.strip().endswith("recorded: 0, duplicate: 14, ignored: 2, error: 0")
    db.session.commit()
    assert len(db.session.scalars(select(MailEvent)).all()) == 14

    # A Maildir and a folder of .eml files are read too.
    maildir = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    maildir.add(dsn(verp_sender("o", 1), "person0@gemeinde-0.de", message_id="<md@x>"))
    (tmp_path / "eml").mkdir()
    (tmp_path / "eml" / "one.eml").write_bytes(
        dsn(verp_sender("o", 2), "person1@gemeinde-1.de", message_id="<eml@x>")
    )
    for path in ("Maildir", "eml"):
        out = runner.invoke(args=["bounces", "import", str(tmp_path / path)]).output
        assert out.strip().endswith("recorded: 1, duplicate: 0, ignored: 0, error: 0"), out


def test_import_needs_the_bounce_address_and_an_existing_path(app, runner, tmp_path):
    result = runner.invoke(args=["bounces", "import", str(tmp_path)])
    assert result.exit_code != 0 and "FORUM_BOUNCE_ADDRESS" in result.output
    app.config["BOUNCE_ADDRESS"] = BOUNCE
    result = runner.invoke(args=["bounces", "import", str(tmp_path / "nope.mbox")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_a_suppressed_applicants_mail_is_held_and_the_organizer_sees_why(
    verp_app, client, make_round, smtp, work, runner, tmp_path, login
):
    from registration.models import Application, ApplicationEvent
    from tests.helpers import application_data
    from tests.helpers.mail import link

    rnd = make_round()
    address = "anna.mueller@gemeinde-beispiel.de"
    client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
    work()
    confirmation = smtp.to(address)[-1]
    bounce = tmp_path / "bounce.eml"
    bounce.write_bytes(dsn(envelope_of(smtp, address), address))
    assert runner.invoke(args=["bounces", "import", str(bounce)]).exit_code == 0

    # The applicant still confirms (the link came through a forwarding, say): the next mail
    # is held, not sent, and marked so in the outbox.
    client.post(link(confirmation, "/applications/confirm/"))
    smtp.sink.clear()
    work()
    assert smtp.to(address) == []
    held = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()[-1]
    assert held.state == "suppressed" and held.sent_at is None
    assert "hard_bounce" in held.last_error

    application = db.session.scalar(select(Application))
    c = login(forums=[rnd.forum], admin=False)
    dashboard = c.get(f"/admin/rounds/{rnd.slug}").get_data(as_text=True)
    assert f'data-bounces="{application.id}"' in dashboard and "Adresse unzustellbar" in dashboard
    page = c.get(f"/admin/applications/{application.id}").get_data(as_text=True)
    assert 'id="address-bounces"' in page and "5.1.1" in page
    assert f'data-template="{held.template}"' in page

    # Lifting needs a reason; without one nothing changes.
    url = f"/admin/applications/{application.id}/lift-suppression"
    assert c.post(url, data={"reason": "  "}).status_code == 422
    assert db.session.scalar(select(Suppression)).lifted_at is None
    response = c.post(url, data={"reason": "Neue Adresse telefonisch bestätigt"})
    assert response.status_code == 302
    work()
    assert len(smtp.to(address)) == 1  # the held mail went out
    row = db.session.scalar(select(Suppression))
    assert row.lifted_at is not None and row.lifted_by == "orga@forum.example.org"
    history = db.session.scalars(
        select(ApplicationEvent.reason).where(ApplicationEvent.application_id == application.id)
    ).all()
    assert "Adresssperre aufgehoben: Neue Adresse telefonisch bestätigt" in history
    assert 'id="address-bounces"' not in c.get(f"/admin/applications/{application.id}").get_data(
        as_text=True
    )


def test_the_bounce_page_lists_filters_and_counts_per_announcement(
    verp_app, client, runner, make_round, smtp, work, login, make_organizer, tmp_path
):
    from tests.helpers.newsletter import add_subscribers

    confirmed = add_subscribers(6)
    rnd = make_round()
    announcement_id = announce(runner, rnd)
    work()
    for n, address in enumerate(confirmed[:3]):
        path = tmp_path / f"{n}.eml"
        to = envelope_of(smtp, address)
        if n == 2:
            path.write_bytes(arf(to, address))
        else:
            path.write_bytes(dsn(to, address, message_id=f"<b{n}@mx>"))
        assert runner.invoke(args=["bounces", "import", str(path)]).exit_code == 0

    c = login(admin=True)
    html = c.get("/admin/mail/bounces").get_data(as_text=True)
    assert html.count('data-kind="hard_bounce"') == 2 and html.count('data-kind="complaint"') == 1
    row = re.search(rf'<tr data-announcement="{announcement_id}">(.*?)</tr>', html, re.S).group(1)
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', row))
    assert counts == {"sent": "6", "failed": "0", "bounces": "2", "complaints": "1"}
    filtered = c.get("/admin/mail/bounces?kind=complaint").get_data(as_text=True)
    assert (
        filtered.count('data-kind="complaint"') == 1 and 'data-kind="hard_bounce"' not in filtered
    )
    by_address = c.get(f"/admin/mail/bounces?q={confirmed[0][:15]}").get_data(as_text=True)
    assert by_address.count("<tr data-kind=") == 1
    # Bad filters are ignored (a NUL is the app's clear 400), never a 500.
    assert c.get("/admin/mail/bounces?kind=nope&q=%25_").status_code == 200
    assert c.get("/admin/mail/bounces?q=%00").status_code == 400

    # Organizers who are not admins do not see addresses of all forums.
    other = client.application.test_client()
    make_organizer(email="orga2@forum.example.org", password="richtig-langes-passwort")
    other.post(
        "/admin/login",
        data={"email": "orga2@forum.example.org", "password": "richtig-langes-passwort"},
    )
    assert other.get("/admin/mail/bounces").status_code == 403


def test_bounces_and_suppression_are_exported_and_erased_with_the_person(
    verp_app, runner, smtp, work, tmp_path
):
    import json

    address = "weg@gemeinde.de"
    message = queue_mail(address, "application_submitted", "de", mail_context())
    db.session.commit()
    work()
    path = tmp_path / "b.eml"
    path.write_bytes(dsn(verp_sender("o", message.id), address))
    assert runner.invoke(args=["bounces", "import", str(path)]).exit_code == 0
    exported = json.loads(runner.invoke(args=["privacy", "export", address]).output)
    kinds = [row["kind"] for row in exported["data"]["mail_delivery"]]
    assert kinds == ["hard_bounce", "suppression"]
    result = runner.invoke(args=["privacy", "erase", address, "--reason", "Auf Wunsch"])
    assert "mail_delivery: 2" in result.output
    db.session.commit()
    assert db.session.scalar(select(MailEvent)) is None
    assert db.session.scalar(select(Suppression)) is None
