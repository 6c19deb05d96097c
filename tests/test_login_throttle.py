"""Issue 12, finding 6: an attacker can no longer lock an organizer out. Browsers that signed in
to the account before (device cookie) keep getting in; unknown browsers share the account's
limit; the organizer gets one warning mail."""

from __future__ import annotations

from sqlalchemy import func, select

from forum.auth import DEVICE_COOKIE
from forum.extensions import db
from forum.models import OutboxMessage

EMAIL = "orga@forum.example.org"
PASSWORD = "richtig-langes-passwort"


def _app(make_app):
    return make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATELIMIT_ADDRESS="1000 per minute",  # the attackers come from many addresses
        PUBLIC_BASE_URL="http://forum.example.org",  # cookies without Secure for the client
    )


def _login(c, password, ip="192.0.2.1", email=EMAIL):
    return c.post(
        "/admin/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": ip},
    ).status_code


def _warnings() -> int:
    db.session.commit()
    return db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.template == "login_attack")
    )


def test_the_owner_gets_in_while_the_account_is_attacked(make_app, app, make_organizer, smtp, work):
    limited = _app(make_app)
    make_organizer(email=EMAIL, password=PASSWORD)
    make_organizer(email="kollegin@forum.example.org", password=PASSWORD)
    owner = limited.test_client()
    assert _login(owner, PASSWORD) == 302
    assert owner.get_cookie(DEVICE_COOKIE, path="/admin/login") is not None
    owner.post("/admin/logout")

    attacker = limited.test_client()
    codes = [_login(attacker, f"geraten-{i}-geraten", ip=f"203.0.113.{i}") for i in range(14)]
    assert codes[:10] == [401] * 10
    assert codes[10:] == [429] * 4

    # Unknown browsers are locked out of this account, even with the right password ...
    assert _login(limited.test_client(), PASSWORD, ip="198.51.100.9") == 429
    # ... the owner's browser is not, from any address.
    assert _login(owner, PASSWORD, ip="198.51.100.77") == 302
    assert owner.get("/admin/").status_code == 200
    # Another account is not affected.
    assert _login(limited.test_client(), PASSWORD, email="kollegin@forum.example.org") == 302

    # One warning mail, however long the attack goes on.
    assert _warnings() == 1
    work()
    [mail] = smtp.to(EMAIL)
    assert mail["Subject"] == "Viele fehlgeschlagene Anmeldeversuche für Ihr Konto"
    assert "schon einmal erfolgreich angemeldet" in mail.get_body(("plain",)).get_content()
    _login(attacker, "noch-einmal-geraten", ip="203.0.113.99")
    assert _warnings() == 1


def test_a_device_cookie_counts_only_for_its_account_and_has_its_own_limit(
    make_app, app, make_organizer
):
    limited = _app(make_app)
    make_organizer(email=EMAIL, password=PASSWORD)
    make_organizer(email="kollegin@forum.example.org", password=PASSWORD)
    browser = limited.test_client()
    assert _login(browser, PASSWORD) == 302
    browser.post("/admin/logout")

    # The cookie was issued for EMAIL: for the colleague's account this browser is unknown.
    other = [
        _login(browser, f"falsch-{i}-falsch", email="kollegin@forum.example.org") for i in range(11)
    ]
    assert other[-1] == 429
    # A stolen device cookie gives an attacker only the device's own ten guesses.
    codes = [_login(browser, f"falsch-{i}-falsch") for i in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    # ... and the account's limit for unknown browsers was not touched by them.
    assert _login(limited.test_client(), PASSWORD) == 302


def test_a_forged_device_cookie_is_unknown(make_app, app, make_organizer):
    limited = _app(make_app)
    make_organizer(email=EMAIL, password=PASSWORD)
    forged = limited.test_client()
    forged.set_cookie(
        DEVICE_COOKIE,
        "eyJlIjoib3JnYUBmb3J1bS5leGFtcGxlLm9yZyIsIm4iOiJ4In0.forged",
        path="/admin/login",
    )
    codes = [_login(forged, f"falsch-{i}-falsch", ip=f"203.0.113.{i}") for i in range(11)]
    assert codes[-1] == 429
