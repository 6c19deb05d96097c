"""Bad input anywhere gets a clear answer, never a 500."""

from __future__ import annotations

import pytest

from .conftest import application_data

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


@pytest.mark.parametrize("value", WEIRD)
def test_public_pages_with_weird_path_values(client, make_round, value):
    make_round()
    from urllib.parse import quote

    v = quote(value, safe="") or "x"
    for path in (
        f"/rounds/{v}/apply",
        f"/forums/{v}",
        f"/applications/confirm/{v}",
        f"/status/{v}",
        f"/offers/{v}",
        f"/newsletter/confirm/{v}",
        f"/newsletter/unsubscribe/{v}",
    ):
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            assert response.status_code < 500, (method, path, response.status_code)


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
        assert response.status_code in (302, 409, 422), (name, response.status_code)
    prefill = client.get(f"/rounds/{rnd.slug}/apply", query_string={"state": value, "email": value})
    assert prefill.status_code == 200


@pytest.mark.parametrize("value", WEIRD)
def test_newsletter_form_with_weird_values(client, value):
    for name in ("email", "name", "privacy_consent"):
        data = {"email": "a@gemeinde.de", "name": "A", "privacy_consent": "y", name: value}
        response = client.post("/newsletter", data=data)
        assert response.status_code < 500, (name, response.status_code)
    assert client.get("/newsletter", query_string={"email": value}).status_code == 200


@pytest.mark.parametrize("value", WEIRD)
def test_organizer_pages_with_weird_values(client, login, make_round, value):
    from urllib.parse import quote

    make_round()
    login(admin=True)
    v = quote(value, safe="") or "x"
    for path in (
        f"/admin/rounds/{v}",
        f"/admin/rounds/{v}/applications.csv",
        f"/admin/applications/{v}",
        f"/admin/newsletter/announcements/{v}",
        f"/admin/newsletter/consent?email={v}",
    ):
        assert client.get(path).status_code < 500, path
    for path, data in (
        (f"/admin/applications/{v}/decision", {"action": "admit"}),
        ("/admin/applications/1/decision", {"action": value}),
        ("/admin/rounds/runde-1", {"q": value, "state": value, "page": value}),
    ):
        assert client.post(path, data=data).status_code < 500, path
    dashboard = client.get(
        "/admin/rounds/runde-1", query_string={"q": value, "state": value, "page": value}
    )
    assert dashboard.status_code < 500


def test_wrong_methods_are_405_not_500(client, make_round):
    rnd = make_round()
    assert client.put(f"/rounds/{rnd.slug}/apply").status_code == 405
    assert client.delete("/").status_code == 405
    assert client.get("/admin/logout").status_code in (302, 405)
