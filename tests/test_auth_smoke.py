"""Organizer login through the real page."""

from __future__ import annotations

import pytest


def test_login_and_home(client, login, make_round):
    rnd = make_round()
    login(admin=True)
    home = client.get("/admin/")
    assert home.status_code == 200
    assert rnd.title in home.get_data(as_text=True)


def test_wrong_password_is_refused(client, make_organizer):
    make_organizer()
    response = client.post(
        "/admin/login", data={"email": "orga@forum.example.org", "password": "falsch-falsch-falsch"}
    )
    assert response.status_code == 401
    assert "falsch" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_organizer_create_command(runner):
    result = runner.invoke(
        args=["organizer", "create", "neu@forum.example.org", "--admin", "--password-stdin"],
        input="ein-sicheres-passwort\n",
    )
    assert result.exit_code == 0, result.output
    again = runner.invoke(
        args=["organizer", "create", "NEU@forum.example.org", "--password-stdin"],
        input="ein-sicheres-passwort\n",
    )
    assert again.exit_code != 0
    assert "exists already" in again.output


def test_session_cookie_flags(client, make_organizer):
    make_organizer()
    response = client.post(
        "/admin/login",
        data={"email": "orga@forum.example.org", "password": "richtig-langes-passwort"},
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie  # PUBLIC_BASE_URL is https in the tests


def test_login_rate_limited_per_account(make_app, app, make_organizer):
    limited = make_app(RATELIMIT_ENABLED=True)
    make_organizer()
    c = limited.test_client()
    codes = [
        c.post(
            "/admin/login",
            data={"email": "orga@forum.example.org", "password": f"falsch-{i}-falsch"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{i}"},  # a different address each time
        ).status_code
        for i in range(12)
    ]
    assert codes[:10] == [401] * 10
    assert codes[10:] == [429, 429]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/admin/rounds/x", "/admin/rounds/x"),
        ("//evil.example", "/admin/"),
        ("/%09/evil.example", "/%09/evil.example"),  # a literal path on this site
        ("/\t/evil.example", "/admin/"),
        ("/\\evil.example", "/admin/"),
        ("https://evil.example/", "/admin/"),
        ("javascript:alert(1)", "/admin/"),
    ],
)
def test_login_redirects_only_within_the_site(client, make_organizer, target, expected):
    make_organizer()
    response = client.post(
        "/admin/login",
        query_string={"next": target},
        data={"email": "orga@forum.example.org", "password": "richtig-langes-passwort"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_proxy_fix_uses_the_forwarded_address(make_app, app, make_organizer):
    behind_proxy = make_app(RATELIMIT_ENABLED=True, PROXY_FIX_X_FOR=1)
    make_organizer()
    c = behind_proxy.test_client()

    def attempt(i, client_ip):
        return c.post(
            "/admin/login",
            data={"email": f"nobody{i}@forum.example.org", "password": "falsch-falsch"},
            headers={"X-Forwarded-For": client_ip},
        ).status_code

    codes = [attempt(i, "198.51.100.7") for i in range(11)]
    assert codes[-1] == 429  # one client over its limit ...
    assert attempt(99, "198.51.100.8") == 401  # ... the next client is not
