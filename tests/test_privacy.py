"""Privacy: export and erasure per person (admin page and command line), the retention
clean-up of finished rounds and of the outbox, the privacy notice. Real Redis, SMTP and
database (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

from sqlalchemy import String, Text, func, select

from forum.db import utcnow
from forum.extensions import db
from forum.models import Meeting, OutboxMessage
from forum.newsletter import services as newsletter
from forum.newsletter.models import ConsentRecord, Subscriber
from registration import admission
from registration.models import Application, ApplicationEvent
from tests.helpers import application_data

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

ANNA = "anna.mueller@gemeinde-beispiel.de"
BERND = "bernd.bauer@stadt-anders.de"


def reload(application: Application) -> Application:
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Application, application.id)


def personal_values(application: Application) -> list[str]:
    return [
        application.first_name,
        application.last_name,
        application.email,
        application.email.split("@")[0],
        application.organisation,
        application.motivation,
        application.challenge,
        *([application.phone] if application.phone else []),
    ]


def text_columns(model) -> list[str]:
    return [c.key for c in model.__table__.columns if isinstance(c.type, String | Text)]


def assert_no_personal_data(application: Application, values: list[str]) -> None:
    application = reload(application)
    for column in text_columns(Application):
        stored = getattr(application, column) or ""
        for value in values:
            assert value.lower() not in stored.lower(), (column, stored)
    for event in application.events:
        for column in text_columns(ApplicationEvent):
            stored = getattr(event, column) or ""
            for value in values:
                assert value.lower() not in stored.lower(), (column, stored)


def organizer_message_round(make_round, make_application, write, seats=1):
    rnd = make_round(seats=seats)
    anna = make_application(
        rnd,
        first_name="Anna",
        last_name="Müller",
        email=ANNA,
        phone="+49 911 123456",
        organisation="Gemeinde Beispielhausen",
        motivation="Anna möchte das Klimaschutzkonzept voranbringen.",
        challenge="Der Bahnhof in Beispielhausen.",
    )
    write(admission.decide, anna, "admit", None, "Liebe Frau Müller, willkommen!")
    write(admission.accept_offer, reload(anna))
    return rnd, anna


# --- export ------------------------------------------------------------------------------------


def test_export_shows_the_persons_data_and_nothing_of_another(
    client, login, make_round, make_application, write, smtp, work
):
    rnd = make_round()
    other_round = make_round()
    response = client.post(
        f"/rounds/{rnd.slug}/apply",
        data=application_data(email=ANNA, newsletter="y", phone="0911 4711"),
    )
    assert response.status_code == 302
    bernd = make_application(
        rnd, first_name="Bernd", last_name="Bauer", email=BERND, organisation="Stadt Anders"
    )
    make_application(other_round, first_name="Anna", last_name="Müller", email=ANNA.upper())
    write(admission.decide, bernd, "admit")
    work()
    assert smtp.to(ANNA) and smtp.to(BERND)

    login(admin=True)
    page = client.get(
        "/admin/privacy", query_string={"email": " Anna.Mueller@Gemeinde-Beispiel.de "}
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-found="yes"' in html
    assert "Gemeinde Beispielhausen" in html and "Bewerbungen (2)" in html
    assert "Bernd" not in html and BERND not in html and "Stadt Anders" not in html

    download = client.get("/admin/privacy/export.json", query_string={"email": ANNA})
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["Cache-Control"] == "no-store"
    export = json.loads(download.get_data(as_text=True))
    assert export["email"] == ANNA and export["found"] is True
    applications = export["data"]["applications"]
    assert {a["round"] for a in applications} == {rnd.slug, other_round.slug}
    first = next(a for a in applications if a["round"] == rnd.slug)
    assert first["phone"] == "0911 4711" and first["motivation"]
    assert [h["to_status"] for h in first["history"]] == ["pending_email"]
    (subscriber,) = export["data"]["newsletter"]
    assert subscriber["status"] == "pending"
    assert subscriber["consent_records"][0]["source"] == "application_form"
    outbox = export["data"]["outbox"]
    assert {m["template"] for m in outbox} == {"application_confirm", "newsletter_confirm"}
    assert all(m["state"] == "sent" and m["subject"] for m in outbox)
    assert all(
        set(m)
        == {"recipient", "template", "subject", "state", "created_at", "sent_at", "failed_at"}
        for m in outbox
    )
    dumped = json.dumps(export, ensure_ascii=False)
    assert "Bernd" not in dumped and "bernd" not in dumped and "Stadt Anders" not in dumped

    nothing = client.get("/admin/privacy", query_string={"email": "niemand@example.org"})
    assert 'data-found="no"' in nothing.get_data(as_text=True)
    empty = json.loads(
        client.get("/admin/privacy/export.json", query_string={"email": "niemand@example.org"}).data
    )
    assert empty["found"] is False and empty["data"]["applications"] == []


def test_export_command_prints_json(runner, make_round, make_application, write):
    rnd = make_round()
    make_application(rnd, email=ANNA, organisation="Gemeinde Beispielhausen")
    make_application(rnd, email=BERND)
    result = write(runner.invoke, args=["privacy", "export", ANNA])
    assert result.exit_code == 0, result.output
    export = json.loads(result.output)
    assert [a["organisation"] for a in export["data"]["applications"]] == [
        "Gemeinde Beispielhausen"
    ]
    assert BERND not in result.output


# --- erasure -----------------------------------------------------------------------------------


def test_erasing_an_accepted_application_frees_its_seat_for_the_waitlist(
    client, login, make_round, make_application, write, smtp, work
):
    rnd, anna = organizer_message_round(make_round, make_application, write)
    values = personal_values(anna)
    bernd = make_application(rnd, email=BERND)
    write(admission.decide, bernd, "admit")  # the round is full: the waitlist
    assert reload(bernd).status == "waitlisted"
    assert reload(anna).status == "accepted"

    login(admin=True)
    page = client.get("/admin/privacy", query_string={"email": ANNA}).get_data(as_text=True)
    assert "Endgültig löschen" in page
    response = client.post(
        "/admin/privacy/erase",
        data={"email": ANNA, "reason": "Antrag per Brief vom 2.12.", "confirm": "y"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/privacy?email=")

    anna = reload(anna)
    assert anna.status == "withdrawn" and anna.anonymised_at is not None
    assert anna.first_name == anna.last_name == "gelöscht"
    assert anna.email == anna.email_normalized == f"deleted-{anna.id}@invalid"
    assert anna.phone == anna.organisation == anna.motivation == anna.challenge == ""
    assert (anna.state, anna.role, anna.body_type) == ("DE-BY", "mayor", "municipality")
    reasons = [e.reason for e in anna.events]
    assert "Löschung auf Wunsch" in reasons
    assert reasons[-1] == "Personenbezogene Daten gelöscht: Antrag per Brief vom 2.12."
    assert sum("Personenbezogene Daten gelöscht" in r for r in reasons) == 1
    assert_no_personal_data(anna, values + ["Liebe Frau"])

    bernd = reload(bernd)
    assert bernd.status == "offered"
    assert admission.held_counts(rnd.id).held == 1
    work()
    assert "bitte bis" in smtp.to(BERND)[-1]["Subject"]  # the offer
    # Anna's mails, queued before the erasure and not yet sent, went with it.
    assert smtp.to(ANNA) == []
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(func.lower(OutboxMessage.recipient) == ANNA)
        )
        == 0
    )

    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-found="no"' in after


def test_erasure_of_a_waitlisted_and_an_unconfirmed_application_keeps_the_waitlist(
    runner, client, make_round, make_application, write, smtp, work
):
    rnd = make_round(seats=1)
    holder = make_application(rnd)
    first = make_application(rnd, email=ANNA)
    last = make_application(rnd)
    for application in (holder, first, last):
        write(admission.decide, application, "admit")
    assert (reload(first).waitlist_position, reload(last).waitlist_position) == (1, 2)
    other = make_round()
    client.post(f"/rounds/{other.slug}/apply", data=application_data(email=ANNA))
    pending = db.session.scalar(select(Application).where(Application.round_id == other.id))
    assert pending.status == "pending_email"

    result = write(runner.invoke, args=["privacy", "erase", ANNA, "--reason", "Mail vom 3.12."])
    assert result.exit_code == 0, result.output
    assert "applications: 2" in result.output
    assert reload(first).status == "withdrawn" and reload(first).waitlist_position is None
    assert reload(last).waitlist_position == 1
    assert reload(pending).status == "withdrawn" and reload(pending).anonymised_at is not None
    assert reload(holder).status == "offered"
    work()
    assert smtp.to(ANNA) == []


def test_erasure_deletes_newsletter_records_and_sent_mails_and_is_idempotent(
    runner, make_round, make_application, write, smtp, work
):
    rnd = make_round()
    make_application(rnd, email=ANNA)
    write(newsletter.request_subscription, ANNA, "Anna Müller", "de", "newsletter_form")
    write(newsletter.request_subscription, BERND, "Bernd Bauer", "de", "newsletter_form")
    work()
    record = db.session.scalar(select(ConsentRecord).where(ConsentRecord.email == ANNA))
    token = re.search(
        r"/newsletter/confirm/(\S+)", smtp.to(ANNA)[-1].get_body(("plain",)).get_content()
    )[1]
    assert write(newsletter.confirm_subscription, token).outcome == "confirmed"
    assert record is not None

    logged = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())
    logger = logging.getLogger("forum.privacy")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        result = write(runner.invoke, args=["privacy", "erase", ANNA, "--reason", "Anruf"])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert result.exit_code == 0, result.output
    assert "newsletter: 2" in result.output and "outbox: 1" in result.output
    # The log says what was erased, with a keyed hash of the address, never the address.
    (line,) = logged
    assert "applications=1" in line and "newsletter=2" in line and "by command line" in line
    assert "anna" not in line.lower() and "beispiel" not in line.lower()
    assert db.session.scalar(select(Subscriber).where(Subscriber.email_normalized == ANNA)) is None
    assert db.session.scalar(select(ConsentRecord).where(ConsentRecord.email == ANNA)) is None
    assert db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == ANNA)) is None
    # Bernd's records are untouched.
    assert db.session.scalar(select(Subscriber).where(Subscriber.email_normalized == BERND))
    assert db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == BERND))

    events = db.session.scalar(select(func.count()).select_from(ApplicationEvent))
    again = write(runner.invoke, args=["privacy", "erase", ANNA, "--reason", "Anruf"])
    assert again.exit_code == 0 and "nothing found" in again.output
    assert db.session.scalar(select(func.count()).select_from(ApplicationEvent)) == events
    unknown = write(
        runner.invoke, args=["privacy", "erase", "niemand@example.org", "--reason", "x"]
    )
    assert "nothing found" in unknown.output
    assert write(runner.invoke, args=["privacy", "erase", ANNA]).exit_code == 2  # --reason


def test_erase_form_needs_reason_and_confirmation(client, login, make_round, make_application):
    rnd = make_round()
    anna = make_application(rnd, email=ANNA)
    login(admin=True)
    for data in (
        {"email": ANNA, "reason": "Antrag", "confirm": ""},
        {"email": ANNA, "reason": "  ", "confirm": "y"},
    ):
        response = client.post("/admin/privacy/erase", data={k: v for k, v in data.items() if v})
        assert response.status_code == 422
        assert "Bitte" in response.get_data(as_text=True)
    assert reload(anna).anonymised_at is None
    response = client.post(
        "/admin/privacy/erase", data={"email": "niemand@example.org", "reason": "x", "confirm": "y"}
    )
    assert response.status_code == 302
    follow = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Es wurde nichts geändert" in follow


# --- access ------------------------------------------------------------------------------------


def test_privacy_pages_are_for_admins_only(client, login, make_round, make_application):
    rnd = make_round()
    anna = make_application(rnd, email=ANNA)
    paths = [("get", "/admin/privacy"), ("get", "/admin/privacy/export.json?email=" + ANNA)]
    erase = ("post", "/admin/privacy/erase")
    for method, path in [*paths, erase]:
        response = getattr(client, method)(
            path, data={"email": ANNA, "reason": "x", "confirm": "y"} if method == "post" else None
        )
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    login(admin=False, forums=[rnd.forum])
    for method, path in [*paths, erase]:
        response = getattr(client, method)(
            path, data={"email": ANNA, "reason": "x", "confirm": "y"} if method == "post" else None
        )
        assert response.status_code == 403, path
    assert reload(anna).anonymised_at is None
    assert "Datenschutz: Auskunft" not in client.get("/admin/").get_data(as_text=True)


def test_erase_form_checks_csrf(make_app, make_round, make_application, app):
    from forum.auth import create_organizer

    rnd = make_round()
    anna = make_application(rnd, email=ANNA)
    create_organizer("admin@forum.example.org", "richtig-langes-passwort", is_admin=True)
    db.session.commit()
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    client = csrf_app.test_client()
    client.environ_base["HTTP_REFERER"] = "https://localhost/admin/"
    token = CSRF.search(client.get("/admin/login").get_data(as_text=True))[1]
    assert (
        client.post(
            "/admin/login",
            data={
                "email": "admin@forum.example.org",
                "password": "richtig-langes-passwort",
                "csrf_token": token,
            },
        ).status_code
        == 302
    )
    page = client.get("/admin/privacy", query_string={"email": ANNA}).get_data(as_text=True)
    assert page.count("<form") == len(CSRF.findall(page)) + page.count('method="get"')
    data = {"email": ANNA, "reason": "Antrag", "confirm": "y"}
    for bad in (None, "falsch"):
        body = dict(data, **({"csrf_token": bad} if bad else {}))
        response = client.post("/admin/privacy/erase", data=body)
        assert response.status_code == 400
        assert "Formular abgelaufen" in response.get_data(as_text=True)
    assert reload(anna).anonymised_at is None
    token = CSRF.findall(page)[-1]
    response = client.post("/admin/privacy/erase", data=dict(data, csrf_token=token))
    assert response.status_code == 302
    assert reload(anna).anonymised_at is not None


# --- retention ---------------------------------------------------------------------------------


def test_retention_anonymises_finished_rounds_only(
    runner, app, make_round, make_application, write
):
    now = utcnow()
    old = make_round(opens=now - timedelta(days=700), closes=now - timedelta(days=600))
    db.session.execute(
        Meeting.__table__.update()
        .where(Meeting.round_id == old.id)
        .values(starts=now - timedelta(days=401), ends=now - timedelta(days=400))
    )
    db.session.commit()
    # Over for 300 days only: kept.
    recent = make_round(opens=now - timedelta(days=500), closes=now - timedelta(days=400))
    db.session.execute(
        Meeting.__table__.update()
        .where(Meeting.round_id == recent.id)
        .values(starts=now - timedelta(days=301), ends=now - timedelta(days=300))
    )
    # Without meetings, the deadline counts.
    no_meetings = make_round(opens=now - timedelta(days=500), closes=now - timedelta(days=380))
    no_meetings.meetings.clear()
    db.session.commit()
    current = make_round()
    old_apps = [make_application(old, organisation=f"Alte Gemeinde {i}") for i in range(3)]
    write(admission.decide, old_apps[0], "admit")
    write(admission.accept_offer, reload(old_apps[0]))
    kept = [make_application(recent), make_application(current)]
    bare = make_application(no_meetings)
    values = {a.id: personal_values(a) for a in [*old_apps, bare]}

    result = write(runner.invoke, args=["maintenance", "run"])
    assert result.exit_code == 0, result.output
    assert "retention_applications: 4" in result.output
    for application in [*old_apps, bare]:
        assert reload(application).anonymised_at is not None
        assert reload(application).first_name == "gelöscht"
        assert_no_personal_data(application, values[application.id])
    assert reload(old_apps[0]).status == "accepted"  # statistics keep the outcome
    assert reload(old_apps[0]).events[-1].reason == "Aufbewahrungsfrist abgelaufen"
    for application in kept:
        assert reload(application).anonymised_at is None
        assert reload(application).first_name.startswith("Vorname")

    again = write(runner.invoke, args=["maintenance", "run"])
    assert "retention_applications: 0" in again.output
    events = db.session.scalar(
        select(func.count())
        .select_from(ApplicationEvent)
        .where(ApplicationEvent.application_id == old_apps[0].id)
    )
    assert events == len(reload(old_apps[0]).events)

    # A shorter period from the settings reaches the recent round.
    app.config["RETENTION_DAYS"] = 200
    result = write(runner.invoke, args=["maintenance", "run"])
    assert "retention_applications: 1" in result.output
    assert reload(kept[0]).anonymised_at is not None
    assert reload(kept[1]).anonymised_at is None


def test_retention_deletes_old_sent_and_failed_mails(runner, app, write):
    from forum.outbox import queue_mail

    now = utcnow()

    def mail(age_days, **values):
        message = queue_mail("x@example.org", "application_submitted", "de", {})
        message.created_at = now - timedelta(days=age_days)
        for key, value in values.items():
            setattr(message, key, value)
        return message

    def make():
        return [
            mail(200, sent_at=now - timedelta(days=200), body_text="Hallo"),
            mail(200, failed_at=now - timedelta(days=199)),
            mail(200, claimed_until=now + timedelta(minutes=5)),  # old but unsent: stays
            mail(100, sent_at=now - timedelta(days=100)),  # young: stays
        ]

    write(make)
    ids = [m.id for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    result = write(runner.invoke, args=["maintenance", "run"])
    assert "outbox_pruned: 2" in result.output, result.output
    remaining = [m.id for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    assert remaining == ids[2:]


# --- the notice --------------------------------------------------------------------------------


def test_privacy_notice_states_the_retention_periods(make_app, app):
    client = make_app(RETENTION_DAYS=400, OUTBOX_RETENTION_DAYS=90).test_client()
    html = client.get("/datenschutz").get_data(as_text=True)
    assert "400 Tage nach dem letzten Arbeitstreffen" in html
    assert "90 Tage nach dem Versand" in html
    english = client.get("/datenschutz?lang=en").get_data(as_text=True)
    assert "400 days" in english
