"""Issue 7: the pages behind signed links share one look-up (registration.access.by_token),
and the forum file's keys carry their labels next to them (forum.loader) for the organizer
pages."""

from __future__ import annotations

import pytest

from forum.loader import FORUM_FIELDS, MEETING_FIELDS, ROUND_FIELDS
from forum.round_admin import label
from registration.tokens import Purpose, make_token

PAGES = [
    ("get", "/status/{token}"),
    ("post", "/status/{token}/withdraw"),
    ("post", "/status/{token}/share-contact"),
    ("get", "/status/{token}/certificate.pdf"),
    ("get", "/status/{token}/edit"),
    ("get", "/offers/{token}"),
    ("post", "/offers/{token}"),
    ("get", "/invitations/{token}"),
    ("post", "/invitations/{token}"),
    ("post", "/invitations/{token}/decline"),
]


@pytest.mark.parametrize(("method", "path"), PAGES)
@pytest.mark.parametrize("kind", ["forged", "unknown", "other purpose"])
def test_a_bad_link_is_the_bad_link_page(app, client, method, path, kind):
    with app.test_request_context():
        token = {
            "forged": "abc.def.ghi",
            "unknown": make_token(Purpose.STATUS, "nobody"),
            "other purpose": make_token(Purpose.CONFIRM, "nobody"),
        }[kind]
        if kind == "unknown" and path.startswith("/offers"):
            token = make_token(Purpose.OFFER, "nobody")
        if kind == "unknown" and path.startswith("/invitations"):
            token = make_token(Purpose.INVITATION, "nobody")
    response = getattr(client, method)(path.format(token=token))
    assert response.status_code == 404
    assert "Dieser Link ist ungültig" in response.get_data(as_text=True)


def test_a_good_status_link_reaches_its_page(app, client, make_round, make_application):
    application = make_application(make_round(), first_name="Fatma")
    with app.test_request_context():
        token = make_token(Purpose.STATUS, application.public_id)
    page = client.get(f"/status/{token}")
    assert page.status_code == 200 and "Fatma" in page.get_data(as_text=True)


def test_every_key_shown_on_the_pages_has_its_label_beside_it(app):
    for fields in (FORUM_FIELDS, ROUND_FIELDS, MEETING_FIELDS):
        for key, field in fields.items():
            if key != "meetings":
                assert field.label is not None, key
    with app.test_request_context():
        assert str(label("seats")) == "Plätze"
        assert str(label("venue")) == "Ort"
        assert label("no-such-key") == "no-such-key"


def test_the_round_page_shows_the_labels(client, login, make_round):
    rnd = make_round()
    login()
    page = client.get(f"/admin/rounds/{rnd.slug}/edit").get_data(as_text=True)
    for text in ("Plätze", "Frist für Zusagen (Stunden)", "Beginn (Berlin)", "Nur auf Einladung"):
        assert text in page
    english = client.get(f"/admin/rounds/{rnd.slug}/edit?lang=en").get_data(as_text=True)
    assert "Seats" in english
