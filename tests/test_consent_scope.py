"""Issue 12, finding 5: the newsletter consent look-up shows an organizer only addresses tied
to their forums, and only the records of their forums' rounds; admins see everything."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

from forum.db import utcnow
from forum.extensions import db
from forum.models import Forum, Round
from forum.newsletter.models import Subscriber
from forum.newsletter.services import request_subscription


def _other_forum_round() -> Round:
    forum = Forum(slug="anderes-forum", title="Anderes Forum", summary="", description="")
    now = utcnow()
    rnd = Round(
        forum=forum,
        slug="geheime-runde",
        title="Geheime Runde B",
        seats=5,
        opens=now - timedelta(days=1),
        closes=now + timedelta(days=10),
    )
    db.session.add(rnd)
    db.session.commit()
    return rnd


def _subscribe(write, address, round_id=None):
    source = "application_form" if round_id else "newsletter_form"
    write(request_subscription, address, "Name", "de", source, round_id=round_id)
    # Let the next request for the address write another record at once.
    write(
        lambda: db.session.execute(
            update(Subscriber)
            .where(Subscriber.email_normalized == address)
            .values(confirmation_sent_at=None)
        )
    )


def _lookup(client, address):
    page = client.get("/admin/newsletter/consent", query_string={"email": address})
    as_json = client.get("/admin/newsletter/consent.json", query_string={"email": address})
    as_csv = client.get("/admin/newsletter/consent.csv", query_string={"email": address})
    return page, as_json, as_csv


def test_organizers_see_only_addresses_of_their_forums(
    app, client, login, make_round, make_application, write
):
    mine = make_round(title="Meine Runde A")
    other = _other_forum_round()
    _subscribe(write, "b-bewerberin@gemeinde-b.de", other.id)
    _subscribe(write, "oeffentlich@gemeinde-x.de")
    _subscribe(write, "a-bewerber@gemeinde-a.de")
    make_application(mine, email="a-bewerber@gemeinde-a.de")
    _subscribe(write, "beide@gemeinde-c.de", mine.id)
    _subscribe(write, "beide@gemeinde-c.de", other.id)

    login(email="orga-a@forum.example.org", admin=False, forums=[mine.forum])

    # Another forum's applicant, and an address with no tie to this forum: as if unknown.
    for address in ("b-bewerberin@gemeinde-b.de", "oeffentlich@gemeinde-x.de"):
        page, as_json, as_csv = _lookup(client, address)
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert 'data-subscriber-status="none"' in text
        assert "Geheime Runde B" not in text
        assert as_json.status_code == 404 and as_csv.status_code == 404

    # An applicant of this forum who subscribed on the public form: shown.
    page, as_json, as_csv = _lookup(client, "a-bewerber@gemeinde-a.de")
    assert 'data-subscriber-status="pending"' in page.get_data(as_text=True)
    assert as_json.status_code == 200
    assert [r["source"] for r in json.loads(as_json.data)["consent_records"]] == ["newsletter_form"]

    # Records from both forums' rounds: only this forum's round is shown.
    page, as_json, as_csv = _lookup(client, "beide@gemeinde-c.de")
    assert "Geheime Runde B" not in page.get_data(as_text=True)
    records = json.loads(as_json.data)["consent_records"]
    assert [r["round"] for r in records] == ["Testforum: Meine Runde A (runde-1)"]
    assert "Geheime Runde B" not in as_csv.get_data(as_text=True)
    assert "Meine Runde A" in as_csv.get_data(as_text=True)


def test_admins_see_every_address(app, client, login, write):
    other = _other_forum_round()
    _subscribe(write, "b-bewerberin@gemeinde-b.de", other.id)
    login(admin=True)
    page, as_json, as_csv = _lookup(client, "b-bewerberin@gemeinde-b.de")
    assert "Geheime Runde B" in page.get_data(as_text=True)
    assert as_json.status_code == 200 and as_csv.status_code == 200
    assert json.loads(as_json.data)["consent_records"][0]["round"].startswith("Anderes Forum")
