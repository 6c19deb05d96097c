"""Confirmation links: forged, expired, reused; resending; expiry by the maintenance run;
duplicates (also in parallel) and eligibility."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from forum.db import utcnow
from forum.extensions import db
from forum.models import OutboxMessage
from registration.models import Application
from registration.tokens import Purpose, make_token
from tests.helpers import application_data
from tests.helpers.mail import links


def apply(client, rnd, **overrides):
    response = client.post(f"/rounds/{rnd.slug}/apply", data=application_data(**overrides))
    assert response.status_code == 302, response.get_data(as_text=True)
    return db.session.scalar(select(Application).order_by(Application.id.desc()))


def test_forged_and_damaged_tokens(client, make_round):
    rnd = make_round()
    application = apply(client, rnd)
    forged = URLSafeTimedSerializer("wrong-secret", salt=Purpose.CONFIRM.value).dumps(
        {"a": application.public_id}
    )
    other_purpose = make_token(Purpose.STATUS, application.public_id)
    for token in (forged, other_purpose, "garbage", "a.b.c", "x" * 500):
        for method in (client.get, client.post):
            response = method(f"/applications/confirm/{token}")
            assert response.status_code == 404
            assert "ungültig" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Application, application.id).status == "pending_email"


def test_expired_link_offers_a_new_one(client, make_round, smtp, work, monkeypatch):
    rnd = make_round(confirm_hours=1)
    application = apply(client, rnd)
    work()
    old_path = links(smtp.messages[0])[0]
    # Two hours later: the signature is too old.
    import itsdangerous.timed

    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() + 7200)
    page = client.get(old_path)
    assert page.status_code == 410
    assert "Neuen Link senden" in page.get_data(as_text=True)
    assert client.post(old_path).status_code == 410
    db.session.expire_all()
    assert db.session.get(Application, application.id).status == "pending_email"

    monkeypatch.setattr(itsdangerous.timed.time, "time", real_time)
    # Make the stored deadline pass as well, as two hours would.
    application = db.session.get(Application, application.id)
    application.confirm_deadline = utcnow() - timedelta(minutes=1)
    db.session.commit()
    resent = client.post(old_path + "/resend")
    assert resent.status_code == 200
    work()
    assert len(smtp.messages) == 2
    new_path = links(smtp.messages[1])[0]
    assert client.post(new_path).status_code == 200
    db.session.expire_all()
    assert db.session.get(Application, application.id).status == "submitted"


def test_maintenance_expires_unconfirmed(client, runner, make_round, smtp, work):
    rnd = make_round()
    stale = apply(client, rnd, email="alt@gemeinde.de")
    fresh = apply(client, rnd, email="neu@gemeinde.de")
    work()  # the confirmation mails go out (decided by the flush job)
    stale.confirm_deadline = utcnow() - timedelta(seconds=1)
    db.session.commit()
    result = runner.invoke(args=["maintenance", "run"])
    assert result.exit_code == 0, result.output
    assert "expired_unconfirmed: 1" in result.output
    db.session.expire_all()
    assert db.session.get(Application, stale.id).status == "expired"
    assert db.session.get(Application, fresh.id).status == "pending_email"
    work()
    confirm = next(m for m in smtp.to("alt@gemeinde.de") if "bestätigen" in m["Subject"])
    page = client.get(links(confirm)[0])
    assert page.status_code == 410
    assert "Erneut bewerben" in page.get_data(as_text=True)
    # The address is free again for a new application.
    again = apply(client, rnd, email="alt@gemeinde.de")
    assert again.id != stale.id and again.status == "pending_email"


def test_duplicate_gets_same_page_and_a_note(client, make_round, smtp, work):
    rnd = make_round()
    first = client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
    second = client.post(
        f"/rounds/{rnd.slug}/apply",
        data=application_data(email="ANNA.Mueller@Gemeinde-Beispiel.de", first_name="Anna-Lena"),
    )
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert (
        client.get(first.headers["Location"]).get_data()
        == client.get(second.headers["Location"]).get_data()
    )
    assert db.session.scalar(select(func.count(Application.id))) == 1
    work()
    subjects = sorted(m["Subject"] for m in smtp.messages)
    assert len(subjects) == 2
    assert any(s.startswith("Bitte bestätigen") for s in subjects)
    assert any(s.startswith("Sie haben sich bereits beworben") for s in subjects)


def test_parallel_duplicates_store_one(app, make_round, smtp, work):
    rnd = make_round()
    slug = rnd.slug
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def submit(i):
        c = app.test_client()
        barrier.wait()
        r = c.post(f"/rounds/{slug}/apply", data=application_data(first_name=f"Anna {i}"))
        statuses.append(r.status_code)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [302] * 8
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Application.id))) == 1
    # One confirmation, and notes for the other attempts: one an hour, though requests racing
    # on PostgreSQL do not see each other's uncommitted note and may each send one.
    assert 2 <= db.session.scalar(select(func.count(OutboxMessage.id))) <= 8
    work()
    confirmations = [m for m in smtp.messages if m["Subject"].startswith("Bitte bestätigen")]
    assert len(confirmations) == 1
    assert 1 <= len([m for m in smtp.messages if "bereits beworben" in m["Subject"]]) <= 7


@pytest.mark.parametrize(
    ("overrides", "rule", "words"),
    [
        ({"state": "DE-NW"}, "state", "Nordrhein-Westfalen gehört nicht dazu"),
        ({"role": "staff"}, "role", "Verwaltungsmitarbeiter*in"),
        ({"body_type": "district"}, "body_type", "Landkreis/Kreis"),
    ],
)
def test_ineligible_is_not_stored_and_offers_newsletter(client, make_round, overrides, rule, words):
    rnd = make_round(body_types=["city", "municipality"])
    response = client.post(f"/rounds/{rnd.slug}/apply", data=application_data(**overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'data-rule="{rule}"' in html
    assert words in html
    assert "/newsletter?email=" in html
    assert db.session.scalar(select(func.count(Application.id))) == 0
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_form_before_opening_and_after_closing(client, make_round):
    now = utcnow()
    upcoming = make_round(opens=now + timedelta(days=2), closes=now + timedelta(days=9))
    closed = make_round(opens=now - timedelta(days=9), closes=now - timedelta(days=2))
    page = client.get(f"/rounds/{upcoming.slug}/apply")
    assert page.status_code == 200
    assert "ab" in page.get_data(as_text=True) and 'name="first_name"' not in page.get_data(
        as_text=True
    )
    for rnd in (upcoming, closed):
        response = client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
        assert response.status_code == 409
    assert "abgelaufen" in client.get(f"/rounds/{closed.slug}/apply").get_data(as_text=True)
    assert db.session.scalar(select(func.count(Application.id))) == 0


def test_index_shows_open_and_upcoming_rounds(client, make_round):
    now = utcnow()
    open_round = make_round(title="Offene Runde")
    make_round(
        title="Kommende Runde", opens=now + timedelta(days=3), closes=now + timedelta(days=9)
    )
    make_round(title="Alte Runde", opens=now - timedelta(days=30), closes=now - timedelta(days=3))
    html = client.get("/").get_data(as_text=True)
    assert "Offene Runde" in html and "Kommende Runde" in html and "Alte Runde" not in html
    assert f"/rounds/{open_round.slug}/apply" in html
    assert "Nürnberg" in html  # the meeting's venue
    assert "Bürgermeister*in" in html  # who may apply
    assert "fonts.googleapis" not in html and "cdn" not in html.lower()
    assert client.get("/?lang=en").get_data(as_text=True).startswith("<!doctype html>")


def test_csrf_is_enforced_on_the_public_form(make_app, make_round, app):
    rnd = make_round()
    strict = make_app(WTF_CSRF_ENABLED=True)
    c = strict.test_client()
    response = c.post(f"/rounds/{rnd.slug}/apply", data=application_data())
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(Application.id))) == 0


def test_expiry_waits_for_a_confirmation_in_progress(app, client, make_round, smtp, work):
    """The maintenance run expiring while the applicant confirms must not overwrite the
    confirmation (PostgreSQL: row lock; SQLite: BEGIN IMMEDIATE)."""
    import time as _time

    from registration.services import confirm_application, expire_unconfirmed

    rnd = make_round()
    application = apply(client, rnd)
    work()
    token = links(smtp.messages[0])[0].rsplit("/", 1)[1]
    confirmed = threading.Event()
    errors: list[Exception] = []

    def confirm():
        try:
            with app.app_context():
                confirm_application(token)
                confirmed.set()
                _time.sleep(0.5)  # hold the transaction (and its locks) open a while
                db.session.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            confirmed.set()

    def expire():
        try:
            with app.app_context():
                confirmed.wait(10)
                expire_unconfirmed(now=utcnow() + timedelta(days=30))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=confirm), threading.Thread(target=expire)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    db.session.expire_all()
    assert db.session.get(Application, application.id).status == "submitted"


def test_duplicate_notes_at_most_one_an_hour(client, make_round, smtp, work):
    rnd = make_round()
    for _ in range(5):
        client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
    work()
    notes = [m for m in smtp.messages if "bereits beworben" in m["Subject"]]
    assert len(notes) == 1
