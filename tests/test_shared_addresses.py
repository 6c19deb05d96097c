"""Issue 7: one normal form of an address (forum.mail.valid_address) and one key
(forum.mail.normalize_email / address_key), used by the application form, the newsletter,
invitations and the privacy look-up alike."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from forum.extensions import db
from forum.mail import InvalidAddress, address_key, normalize_email, valid_address
from forum.newsletter.models import Subscriber
from registration.models import Application
from tests.helpers import application_data

TYPED = " Anna.Mueller@Bürgermeister.DE "
KEY = "anna.mueller@xn--brgermeister-dlb.de"


@pytest.mark.parametrize(
    ("typed", "address"),
    [
        (TYPED, "Anna.Mueller@xn--brgermeister-dlb.de"),
        ("info@gemeinde.de", "info@gemeinde.de"),
    ],
)
def test_valid_address_and_its_key(typed, address):
    assert valid_address(typed) == address
    assert normalize_email(address) == address_key(typed) == address.lower()


@pytest.mark.parametrize(
    "typed", ["jürgen@gemeinde.de", "kein-at-zeichen", "a@" + "b" * 250 + ".de", ""]
)
def test_invalid_addresses(typed):
    with pytest.raises(InvalidAddress):
        valid_address(typed)
    assert address_key(typed) == typed.strip().lower()


def test_form_newsletter_and_privacy_agree_on_the_key(client, login, make_round, smtp, work):
    rnd = make_round()
    response = client.post(f"/rounds/{rnd.slug}/apply", data=application_data(email=TYPED))
    assert response.status_code == 302
    data = {"email": TYPED, "privacy_consent": "y"}
    assert client.post("/newsletter", data=data).status_code == 302
    work()  # the flush job records both requests (the same work for every address)
    application = db.session.scalar(select(Application))
    subscriber = db.session.scalar(select(Subscriber))
    assert application.email == subscriber.email == "Anna.Mueller@xn--brgermeister-dlb.de"
    assert application.email_normalized == subscriber.email_normalized == KEY
    login()
    export = json.loads(
        client.get("/admin/privacy/export.json", query_string={"email": TYPED.upper()}).data
    )
    assert export["email"] == KEY and export["found"] is True
    assert export["data"]["newsletter"] and export["data"]["outbox"]
