"""A sender people can answer: mails about a round carry ``Reply-To`` with the forum's
contact address and name it in their footer (text and HTML), and the status page shows it."""

from __future__ import annotations

import re

from forum.extensions import db
from forum.models import Forum

from .conftest import application_data
from .test_newsletter import html_of, link, text_of


def test_round_mails_answer_to_the_forum_and_name_it(client, make_round, smtp, work):
    rnd = make_round()
    address = "anna.mueller@gemeinde-beispiel.de"
    client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
    work()
    confirmation = smtp.to(address)[-1]
    client.post(link(confirmation, "/applications/confirm/"))
    work()
    mails = smtp.to(address)
    assert len(mails) == 2  # the confirmation request and "application received"
    for mail in mails:
        assert mail["Reply-To"] == "team@forum.example.org"
        assert "Kontakt: team@forum.example.org" in text_of(mail)
        assert 'href="mailto:team@forum.example.org"' in html_of(mail)
    status_path = re.search(r"https://forum\.example\.org(/status/\S+)", text_of(mails[-1]))
    page = client.get(status_path.group(1)).get_data(as_text=True)
    assert 'id="contact"' in page and "mailto:team@forum.example.org" in page


def test_a_forum_without_contact_sends_no_reply_to(client, make_round, smtp, work):
    rnd = make_round()
    db.session.execute(db.update(Forum).values(contact_email=""))
    db.session.commit()
    client.post(f"/rounds/{rnd.slug}/apply", data=application_data(locale=None))
    work()
    mail = smtp.messages[-1]
    assert mail["Reply-To"] is None and "Kontakt:" not in text_of(mail)
