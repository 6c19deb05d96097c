"""Issue 7: one token module (forum.tokens) with a registry of purposes, one salt each.

Links made by the modules before the shared one (itsdangerous with the purpose as salt, the
payload as it was) must keep working: they are made here the old way, by hand, and opened
through the public pages."""

from __future__ import annotations

from enum import StrEnum

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

import forum.bounces  # noqa: F401  (registers its salt)
from forum.extensions import db
from forum.newsletter.models import ConsentRecord, Subscriber
from forum.tokens import TokenInvalid, register_purposes, registered_salts, sign, unsign
from registration.models import Application
from registration.tokens import Purpose, read_token
from tests.helpers import application_data
from tests.helpers.jobs import run_jobs


def _old_scheme(app, salt: str, payload) -> str:
    """What registration/tokens.py and forum/newsletter/tokens.py made before issue 7."""
    keys = [*app.config["SECRET_KEY_FALLBACKS"], app.config["SECRET_KEY"]]
    return URLSafeTimedSerializer(keys, salt=salt).dumps(payload)


def test_every_purpose_has_its_own_salt(app):
    salts = registered_salts()
    assert {
        "application-confirm",
        "application-status",
        "application-offer",
        "round-invitation",
        "newsletter-confirm",
        "newsletter-unsubscribe",
        "organizer-device",
        "bounce-verp",
    } <= salts

    class Again(StrEnum):
        CONFIRM = "application-confirm"

    with pytest.raises(ValueError, match="application-confirm"):
        register_purposes(Again)
    assert registered_salts() == salts


def test_a_token_of_one_purpose_does_not_work_for_another(app):
    with app.test_request_context():
        token = sign(Purpose.STATUS, {"a": "abc"})
        assert read_token(Purpose.STATUS, token) == {"a": "abc"}
        with pytest.raises(TokenInvalid):
            read_token(Purpose.OFFER, token)
        with pytest.raises(TokenInvalid):
            unsign(Purpose.STATUS, token[:-2] + "xx")


def test_application_links_of_the_old_scheme_still_work(app, client, make_round, smtp):
    rnd = make_round()
    assert client.post(f"/rounds/{rnd.slug}/apply", data=application_data()).status_code == 302
    application = db.session.scalar(select(Application))
    old = _old_scheme(app, "application-confirm", {"a": application.public_id})
    assert client.get(f"/applications/confirm/{old}").status_code == 200
    assert client.post(f"/applications/confirm/{old}").status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Application)).status == "submitted"
    status = _old_scheme(app, "application-status", {"a": application.public_id})
    page = client.get(f"/status/{status}")
    assert page.status_code == 200
    assert "Anna" in page.get_data(as_text=True)
    # Made with another purpose's salt: a bad link, not a status page.
    wrong = _old_scheme(app, "application-offer", {"a": application.public_id})
    assert client.get(f"/status/{wrong}").status_code == 404


def test_newsletter_links_of_the_old_scheme_still_work(app, client, smtp):
    data = {"email": "abo@gemeinde.de", "privacy_consent": "y"}
    assert client.post("/newsletter", data=data).status_code == 302
    run_jobs(app)
    subscriber = db.session.scalar(select(Subscriber))
    consent = db.session.scalar(select(ConsentRecord))
    confirm = _old_scheme(app, "newsletter-confirm", consent.public_id)
    assert client.post(f"/newsletter/confirm/{confirm}").status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Subscriber)).status == "confirmed"
    unsubscribe = _old_scheme(app, "newsletter-unsubscribe", subscriber.public_id)
    assert client.post(f"/newsletter/unsubscribe/{unsubscribe}").status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Subscriber)).status == "unsubscribed"
