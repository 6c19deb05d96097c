"""Issue 12, finding 4: logout ends the session on the server; "log out everywhere"."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from forum.extensions import db
from forum.models import OrganizerSession


def _copy_cookie(source, target, app):
    cookie = source.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    target.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie.value)


def _sessions() -> int:
    return db.session.scalar(select(func.count()).select_from(OrganizerSession))


def test_a_copied_cookie_is_worthless_after_logout(app, client, login):
    login(admin=True)
    assert client.get("/admin/").status_code == 200
    thief = app.test_client()
    _copy_cookie(client, thief, app)
    assert thief.get("/admin/").status_code == 200  # the copy works while logged in
    assert _sessions() == 1

    response = client.post("/admin/logout")
    assert response.status_code == 302
    assert _sessions() == 0
    assert client.get("/admin/").status_code == 302
    stolen = thief.get("/admin/")
    assert stolen.status_code == 302
    assert "/admin/login" in stolen.headers["Location"]


def test_logout_ends_only_this_browser(app, client, login):
    login(email="orga@forum.example.org", admin=True)
    other = app.test_client()
    response = other.post(
        "/admin/login",
        data={"email": "orga@forum.example.org", "password": "richtig-langes-passwort"},
    )
    assert response.status_code == 302
    assert _sessions() == 2
    client.post("/admin/logout")
    assert client.get("/admin/").status_code == 302
    assert other.get("/admin/").status_code == 200


def test_logout_everywhere(app, client, login):
    login(email="orga@forum.example.org", admin=True)
    browsers = [app.test_client() for _ in range(2)]
    for b in browsers:
        b.post(
            "/admin/login",
            data={"email": "orga@forum.example.org", "password": "richtig-langes-passwort"},
        )
        assert b.get("/admin/").status_code == 200
    copy = app.test_client()
    _copy_cookie(browsers[0], copy, app)
    assert "Auf allen Geräten abmelden" in client.get("/admin/").get_data(as_text=True)

    response = client.post("/admin/logout-everywhere", follow_redirects=True)
    assert "3 Sitzungen" in response.get_data(as_text=True)
    assert _sessions() == 0
    for c in (client, *browsers, copy):
        assert c.get("/admin/").status_code == 302
    # Logging in again works as before.
    again = app.test_client()
    again.post(
        "/admin/login",
        data={"email": "orga@forum.example.org", "password": "richtig-langes-passwort"},
    )
    assert again.get("/admin/").status_code == 200


def test_logout_needs_the_csrf_token(make_app, app, make_organizer):
    strict = make_app(WTF_CSRF_ENABLED=True, PUBLIC_BASE_URL="http://forum.example.org")
    make_organizer()
    c = strict.test_client()
    page = c.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = c.post(
        "/admin/login",
        data={
            "email": "orga@forum.example.org",
            "password": "richtig-langes-passwort",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert c.get("/admin/").status_code == 200
    assert c.post("/admin/logout-everywhere").status_code == 400
    assert c.post("/admin/logout").status_code == 400
    assert c.get("/admin/").status_code == 200
