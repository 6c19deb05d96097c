"""Issue 12, finding 9: strict single-line fields (no Cc, Cf except ZWJ/ZWNJ, Zl, Zp) and choice
fields that are a code or empty."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from forum.newsletter.models import Subscriber
from registration.models import Application
from tests.helpers import application_data

BAD = {
    "ESC": "\x1b",
    "vertical tab": "\x0b",
    "form feed": "\x0c",
    "tab": "\t",
    "NEL U+0085": "\x85",
    "CSI U+009B": "\x9b",
    "line separator U+2028": "\u2028",
    "paragraph separator U+2029": "\u2029",
    "right-to-left override U+202E": "\u202e",
    "zero-width space U+200B": "\u200b",
    "BOM U+FEFF": "\ufeff",
}


def _count(model) -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("field", ["first_name", "last_name", "organisation", "phone"])
@pytest.mark.parametrize("char", list(BAD.values()), ids=list(BAD))
def test_control_and_format_characters_are_refused(client, make_round, field, char):
    rnd = make_round()
    value = {"phone": "0911 {} 123", "organisation": "Gemeinde{}Beispiel"}.get(field, "An{}na")
    response = client.post(
        f"/rounds/{rnd.slug}/apply", data=application_data(**{field: value.format(char)})
    )
    assert response.status_code == 422
    assert "ohne Steuerzeichen" in response.get_data(as_text=True)
    assert _count(Application) == 0


def test_what_names_need_passes(client, make_round):
    rnd = make_round()
    response = client.post(
        f"/rounds/{rnd.slug}/apply",
        data=application_data(first_name="Mehr\u200cnaz", last_name="O'Brien-Kühn Ñúñez"),
    )
    assert response.status_code == 302
    stored = db.session.scalar(select(Application))
    assert stored.first_name == "Mehr\u200cnaz"


@pytest.mark.parametrize("value", ["   ", "xyz", "main_office ", "\u2028"])
def test_department_must_be_a_code_or_empty(client, make_round, value):
    rnd = make_round()
    response = client.post(f"/rounds/{rnd.slug}/apply", data=application_data(department=value))
    assert response.status_code == 422
    assert _count(Application) == 0


@pytest.mark.parametrize(("value", "stored"), [("", ""), ("treasury", "treasury"), (None, "")])
def test_department_code_or_nothing_is_stored(client, make_round, value, stored):
    rnd = make_round()
    response = client.post(f"/rounds/{rnd.slug}/apply", data=application_data(department=value))
    assert response.status_code == 302
    assert db.session.scalar(select(Application)).department == stored


@pytest.mark.parametrize("char", ["\u2028", "\x85", "\u202e"])
def test_newsletter_name_is_one_line(client, char):
    response = client.post(
        "/newsletter",
        data={"email": "a@gemeinde.de", "name": f"An{char}na", "privacy_consent": "y"},
    )
    assert response.status_code == 422
    assert _count(Subscriber) == 0
