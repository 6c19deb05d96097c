"""Bad input anywhere gets a clear answer, never a 500."""

from __future__ import annotations

import re

import pytest

from tests.helpers import application_data

WEIRD = [
    "",
    "x" * 10_000,
    "\x00",
    "a\x00b",
    "<script>alert(1)</script>",
    "'; DROP TABLE application; --",
    "%00",
    "ü" * 300,
    "\r\nBcc: x@example.org",
    "99999999999999999999999",
    "-1",
    "../../etc/passwd",
]
TOO_LONG = {"x" * 10_000, "ü" * 300}


def segment_matches(value: str) -> bool:
    """Whether a path segment reaches the view (app.py, PathSegmentConverter: 1 to 500
    characters, no slash, no control character); otherwise no route matches: 404."""
    return re.fullmatch(r"[^/\x00-\x1f\x7f]{1,500}", value or "x") is not None


@pytest.mark.parametrize("value", WEIRD)
def test_public_pages_with_weird_path_values(client, make_round, value):
    make_round()
    from urllib.parse import quote

    v = quote(value, safe="") or "x"
    matches = segment_matches(value)
    # (path, answer to GET, answer to POST) for a segment that reaches the view: no such round,
    # forum or application (404), a page without POST (405), a link that is not ours (400)
    for path, get, post in (
        (f"/rounds/{v}/apply", 404, 404),
        (f"/forums/{v}", 404, 405),
        (f"/applications/confirm/{v}", 404, 404),
        (f"/status/{v}", 404, 405),
        (f"/offers/{v}", 404, 404),
        (f"/newsletter/confirm/{v}", 400, 400),
        (f"/newsletter/unsubscribe/{v}", 400, 400),
    ):
        assert client.get(path).status_code == (get if matches else 404), path
        assert client.post(path).status_code == (post if matches else 404), path


def form_answer(name: str, value: str) -> int:
    """The one answer of the application form to ``value`` in field ``name`` (all others
    valid): 400 for NUL (refused before the form is read), 302 where the value is acceptable
    for the field (stored as text, escaped on output; the form then goes to the check-inbox
    page, also for the same address again), else 422 with the form and its messages."""
    if "\x00" in value:
        return 400
    acceptable = {
        "first_name": value != "" and value not in TOO_LONG,  # free text, at most 100
        "email": False,  # none of them is an address
        "state": False,  # choices
        "role": False,
        "body_type": False,
        "department": value == "",  # optional choice
        "motivation": value not in ("", "x" * 10_000),  # required, at most 5000
        "phone": value not in TOO_LONG,  # optional, one line, at most 40
        "commitment": value != "",  # a checkbox: any value ticks it
    }[name]
    return 302 if acceptable else 422


@pytest.mark.parametrize("value", WEIRD)
def test_application_form_with_weird_values(client, make_round, value):
    rnd = make_round()
    for name in (
        "first_name",
        "email",
        "state",
        "role",
        "body_type",
        "department",
        "motivation",
        "phone",
        "commitment",
    ):
        response = client.post(f"/rounds/{rnd.slug}/apply", data=application_data(**{name: value}))
        assert response.status_code == form_answer(name, value), (name, response.status_code)
    prefill = client.get(f"/rounds/{rnd.slug}/apply", query_string={"state": value, "email": value})
    assert prefill.status_code == (400 if "\x00" in value else 200)


@pytest.mark.parametrize("value", WEIRD)
def test_newsletter_form_with_weird_values(client, value):
    for name in ("email", "name", "privacy_consent"):
        data = {"email": "a@gemeinde.de", "name": "A", "privacy_consent": "y", name: value}
        response = client.post("/newsletter", data=data)
        # none is an address, none ticks the consent box; a name is optional, at most 200
        accepted = name == "name" and value not in TOO_LONG
        expected = 400 if "\x00" in value else 302 if accepted else 422
        assert response.status_code == expected, (name, response.status_code)
    expected = 400 if "\x00" in value else 200
    assert client.get("/newsletter", query_string={"email": value}).status_code == expected


@pytest.mark.parametrize("value", WEIRD)
def test_organizer_pages_with_weird_values(client, login, make_round, make_application, value):
    from urllib.parse import quote

    from forum.extensions import db
    from registration.models import Application

    rnd = make_round()
    application = make_application(rnd)
    login(admin=True)
    v = quote(value, safe="") or "x"
    for path in (  # no such round, application or announcement
        f"/admin/rounds/{v}",
        f"/admin/rounds/{v}/applications.csv",
        f"/admin/applications/{v}",
        f"/admin/newsletter/announcements/{v}",
    ):
        assert client.get(path).status_code == 404, path
    # a look-up that finds nothing (NUL: refused)
    consent = client.get(f"/admin/newsletter/consent?email={v}")
    assert consent.status_code == (400 if "\x00" in value else 200)
    # No application has that id (ids are numbers; the route does not match otherwise).
    decision = client.post(f"/admin/applications/{v}/decision", data={"action": "admit"})
    assert decision.status_code == 404
    # A real application, a weird action: refused with the form (NUL: before it), nothing changes.
    response = client.post(f"/admin/applications/{application.id}/decision", data={"action": value})
    assert response.status_code == (400 if "\x00" in value else 422), response.status_code
    db.session.expire_all()
    assert db.session.get(Application, application.id).status == "submitted"
    # Weird filters and page numbers are ignored (the unfiltered first page); NUL is refused.
    dashboard = client.get(
        f"/admin/rounds/{rnd.slug}", query_string={"q": value, "state": value, "page": value}
    )
    assert dashboard.status_code == (400 if "\x00" in value else 200)


def test_wrong_methods_are_405_not_500(client, make_round):
    rnd = make_round()
    assert client.put(f"/rounds/{rnd.slug}/apply").status_code == 405
    assert client.delete("/").status_code == 405
    assert client.get("/admin/logout").status_code == 405  # a POST with CSRF token only


def test_nul_anywhere_is_a_clear_400_and_changes_nothing(client, make_round, make_organizer):
    from sqlalchemy import func, select

    from forum.extensions import db
    from registration.models import Application

    rnd = make_round()
    make_organizer()
    for field in ("organisation", "motivation", "first_name"):
        response = client.post(
            f"/rounds/{rnd.slug}/apply", data=application_data(**{field: "Ge\x00meinde"})
        )
        assert response.status_code == 400
    assert db.session.scalar(select(func.count(Application.id))) == 0
    login = client.post("/admin/login", data={"email": "a\x00b@x.de", "password": "x"})
    assert login.status_code == 400
    consent = client.get("/admin/newsletter/consent", query_string={"email": "a\x00b"})
    assert consent.status_code == 400  # refused before the login check
    assert "Anfrage nicht möglich" in client.get("/?q=%00").get_data(as_text=True)


def test_organisation_that_grows_when_casefolded(client, make_round):
    rnd = make_round()
    response = client.post(
        f"/rounds/{rnd.slug}/apply", data=application_data(organisation="ß" * 200)
    )
    assert response.status_code == 302
