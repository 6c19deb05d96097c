"""The applicant's way in, through HTTP, the worker and a real SMTP server."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from forum.extensions import db
from forum.models import OutboxMessage
from registration.models import Application, ApplicationEvent
from tests.helpers import application_data
from tests.helpers.mail import links


def test_apply_confirm_submitted(client, make_round, smtp, work):
    rnd = make_round()
    page = client.get(f"/rounds/{rnd.slug}/apply?state=DE-BY&role=mayor")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in (
        "first_name",
        "last_name",
        "email",
        "phone",
        "organisation",
        "body_type",
        "state",
        "role",
        "department",
        "motivation",
        "challenge",
        "commitment",
        "privacy_consent",
        "newsletter",
    ):
        assert f'name="{name}"' in html
    assert '<option selected value="DE-BY">' in html
    assert '<option selected value="mayor">' in html

    response = client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
    assert response.status_code == 302
    assert "check-inbox" in response.headers["Location"]
    application = db.session.scalar(select(Application))
    assert application.status == "pending_email"
    assert smtp.messages == []  # nothing is sent before the worker runs

    work()
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert "Bitte bestätigen" in mail["Subject"]
    assert mail.get_body(preferencelist=("html",)) is not None
    confirm_path = next(p for p in links(mail) if p.startswith("/applications/confirm/"))

    # GET (what a mail scanner does) changes nothing.
    page = client.get(confirm_path)
    assert page.status_code == 200
    assert "Bewerbung bestätigen" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Application, application.id).status == "pending_email"

    done = client.post(confirm_path)
    assert done.status_code == 200
    assert 'data-status="submitted"' in done.get_data(as_text=True)
    db.session.expire_all()
    application = db.session.get(Application, application.id)
    assert application.status == "submitted"
    events = db.session.scalars(select(ApplicationEvent).order_by(ApplicationEvent.id)).all()
    assert [(e.from_status, e.to_status, e.actor) for e in events] == [
        (None, "pending_email", "applicant"),
        ("pending_email", "submitted", "applicant"),
    ]

    # Used again: a clear page, no change.
    again = client.post(confirm_path)
    assert again.status_code == 200
    assert "Bereits bestätigt" in again.get_data(as_text=True)

    work()
    assert len(smtp.messages) == 2
    status_path = next(p for p in links(smtp.messages[1]) if p.startswith("/status/"))
    status = client.get(status_path)
    assert status.status_code == 200
    assert 'data-status="submitted"' in status.get_data(as_text=True)


def test_english_mail_and_page(client, make_round, smtp, work):
    rnd = make_round()
    response = client.post(
        f"/rounds/{rnd.slug}/apply?lang=en",
        data=application_data(),
    )
    assert response.status_code == 302
    work()
    assert smtp.messages[0]["Subject"].startswith("Please confirm your application")


def test_umlauts_and_long_motivation_pass_a_strict_smtp_server(client, make_round, smtp, work):
    rnd = make_round()
    motivation = ("Größere Übergänge für Bürgermeister*innen äöüß " * 100)[:3000]
    assert len(motivation) == 3000
    response = client.post(
        f"/rounds/{rnd.slug}/apply",
        data=application_data(first_name="Jürgen", last_name="Öztürk-Weiß", motivation=motivation),
    )
    assert response.status_code == 302
    work()
    confirm = smtp.messages[0]
    # The confirmation goes to an unconfirmed address: it repeats no free text.
    assert "Größere Übergänge" not in confirm.get_body(preferencelist=("plain",)).get_content()
    client.post(links(confirm)[0])
    work()
    assert len(smtp.messages) == 2
    for envelope in smtp.sink.envelopes:
        raw = envelope.original_content
        assert max(len(line) for line in raw.split(b"\r\n")) < 998
    text = smtp.messages[1].get_body(preferencelist=("plain",)).get_content()
    assert motivation.strip() in text
    assert "Jürgen Öztürk-Weiß" in text
    html = smtp.messages[1].get_body(preferencelist=("html",)).get_content()
    assert "Größere Übergänge für Bürgermeister*innen" in html
    messages = db.session.scalars(select(OutboxMessage)).all()
    assert all(m.sent_at is not None and m.attempts == 1 for m in messages)


def test_validation_errors_next_to_fields_and_nothing_stored(client, make_round):
    rnd = make_round()
    data = application_data(
        email="nicht-gueltig", first_name="", commitment=None, motivation="x" * 5001
    )
    response = client.post(f"/rounds/{rnd.slug}/apply", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="email-error"' in html
    assert re.search(
        r'aria-describedby="[^"]*email-error"[^>]*aria-invalid="true"[^>]*id="email"', html
    )
    assert 'aria-describedby="None"' not in html
    assert 'id="first_name-error"' in html
    assert 'id="commitment-error"' in html
    assert 'id="motivation-error"' in html
    assert db.session.scalar(select(func.count(Application.id))) == 0
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_unknown_codes_are_refused(client, make_round):
    rnd = make_round()
    response = client.post(
        f"/rounds/{rnd.slug}/apply", data=application_data(state="DE-XX", role="king")
    )
    assert response.status_code == 422
    assert db.session.scalar(select(func.count(Application.id))) == 0


def test_unknown_round_is_404(client):
    assert client.get("/rounds/gibt-es-nicht/apply").status_code == 404


def test_newsletter_checkbox_starts_its_own_double_opt_in(client, make_round, smtp, work):
    from forum.newsletter.models import ConsentRecord

    rnd = make_round()
    page = client.get(f"/rounds/{rnd.slug}/apply").get_data(as_text=True)
    assert "Ja, ich möchte den Newsletter" in page  # the versioned consent wording
    response = client.post(f"/rounds/{rnd.slug}/apply", data=application_data(newsletter="y"))
    assert response.status_code == 302
    work()  # the flush job decides (the same work for a known address: test_same_work.py)
    record = db.session.scalar(select(ConsentRecord))
    assert record.source == "application_form" and record.round_id == rnd.id
    assert record.confirmed_at is None
    assert record.wording_text.startswith("Ja, ich möchte den Newsletter")
    subjects = sorted(m["Subject"] for m in smtp.messages)
    assert len(subjects) == 2
    assert any("Newsletter" in s for s in subjects)


def test_no_newsletter_without_the_checkbox(client, make_round):
    from forum.newsletter.models import ConsentRecord

    rnd = make_round()
    client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
    assert db.session.scalar(select(func.count(ConsentRecord.id))) == 0


def test_umlaut_before_the_at_is_refused_clearly(client, make_round):
    rnd = make_round()
    response = client.post(
        f"/rounds/{rnd.slug}/apply", data=application_data(email="jürgen@gemeinde.de")
    )
    assert response.status_code == 422
    assert "ohne Umlaute" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Application.id))) == 0


def test_umlaut_domain_is_stored_in_ascii_and_reached(client, make_round, smtp, work):
    rnd = make_round()
    response = client.post(
        f"/rounds/{rnd.slug}/apply", data=application_data(email="info@gemeinde-müllheim.de")
    )
    assert response.status_code == 302
    application = db.session.scalar(select(Application))
    assert application.email == "info@xn--gemeinde-mllheim-szb.de"
    work()
    assert len(smtp.messages) == 1
