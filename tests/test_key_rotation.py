"""Issue 12: secret key rotation. With the old key in SECRET_KEY_FALLBACKS, links in mails
already sent (application confirm and status, newsletter confirm and unsubscribe), sessions
and device cookies made with the old key keep working; without it they do not."""

from __future__ import annotations

import re

from sqlalchemy import select

from forum.extensions import db
from forum.newsletter.models import Subscriber
from forum.newsletter.tokens import unsubscribe_url
from registration.models import Application
from tests.helpers import application_data
from tests.helpers.jobs import run_jobs

LINK = re.compile(r"https://forum\.example\.org(/\S+)")
OLD, NEW = "old-secret-key-2025", "new-secret-key-2026"


def _link(message, prefix: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return next(p for p in LINK.findall(body) if p.startswith(prefix))


def test_links_in_mails_sent_before_a_rotation_keep_working(make_app, app, make_round, smtp):
    rnd = make_round()
    before = make_app(SECRET_KEY=OLD)
    c = before.test_client()
    assert c.post(f"/rounds/{rnd.slug}/apply", data=application_data()).status_code == 302
    data = {"email": "abo@gemeinde.de", "privacy_consent": "y"}
    assert c.post("/newsletter", data=data).status_code == 302
    run_jobs(before)
    confirm = _link(smtp.to("anna.mueller@gemeinde-beispiel.de")[0], "/applications/confirm/")
    newsletter_confirm = _link(smtp.to("abo@gemeinde.de")[0], "/newsletter/confirm/")

    without_fallback = make_app(SECRET_KEY=NEW).test_client()
    assert without_fallback.get(confirm).status_code == 404  # the test can fail

    rotated = make_app(SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=[OLD])
    r = rotated.test_client()
    assert r.get(confirm).status_code == 200
    assert r.post(confirm).status_code == 200
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalar(select(Application)).status == "submitted"
    assert r.post(newsletter_confirm).status_code == 200
    db.session.commit()
    db.session.expire_all()
    subscriber = db.session.scalar(select(Subscriber))
    assert subscriber.status == "confirmed"

    # An unsubscribe link made with the old key (as in every newsletter already sent).
    with before.test_request_context():
        old_unsubscribe = unsubscribe_url(subscriber.public_id).removeprefix(
            "https://forum.example.org"
        )
    assert r.get(old_unsubscribe).status_code == 200
    assert r.post(old_unsubscribe).status_code == 200
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalar(select(Subscriber)).status == "unsubscribed"
    assert without_fallback.post(old_unsubscribe).status_code == 400


def test_sessions_and_device_cookies_survive_a_rotation(make_app, app, make_organizer):
    make_organizer()
    before = make_app(SECRET_KEY=OLD, PUBLIC_BASE_URL="http://forum.example.org")
    c = before.test_client()
    login = {"email": "orga@forum.example.org", "password": "richtig-langes-passwort"}
    assert c.post("/admin/login", data=login).status_code == 302
    cookies = {k.key: k.value for k in c._cookies.values()}
    assert {"session", "forum_device"} <= set(cookies)

    rotated = make_app(
        SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=[OLD], PUBLIC_BASE_URL="http://forum.example.org"
    )
    r = rotated.test_client()
    r.set_cookie("session", cookies["session"])
    r.set_cookie("forum_device", cookies["forum_device"], path="/admin/login")
    assert r.get("/admin/").status_code == 200
    with rotated.test_request_context(
        "/admin/login",
        method="POST",
        data=login,
        headers={"Cookie": f"forum_device={cookies['forum_device']}"},
    ):
        from forum.auth import trusted_device

        assert trusted_device() is not None
    unrotated = make_app(SECRET_KEY=NEW, PUBLIC_BASE_URL="http://forum.example.org")
    u = unrotated.test_client()
    u.set_cookie("session", cookies["session"])
    assert u.get("/admin/").status_code == 302
