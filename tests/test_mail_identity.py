"""A sender people can answer: mails about a round carry ``Reply-To`` with the forum's
contact address and name it in their footer (text and HTML), and the status page shows it."""

from __future__ import annotations

import re

from forum.extensions import db
from forum.models import Forum
from tests.helpers import application_data
from tests.helpers.mail import html_of, link, text_of


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


def _compose(client, rnd, **data) -> str:
    response = client.post(f"/admin/newsletter/rounds/{rnd.slug}/announce", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def test_bilingual_announcements_reach_each_subscriber_in_their_language(
    app, client, login, make_round, smtp, work
):
    from tests.helpers.newsletter import add_subscribers

    rnd = make_round(title="Staffel 2027")
    confirmed = add_subscribers(20)  # every tenth has English as their language
    english = {confirmed[0], confirmed[10]}
    login(forums=[rnd.forum], admin=False)

    # Half an English version is refused with a clear message, and nothing is stored.
    half = client.post(
        f"/admin/newsletter/rounds/{rnd.slug}/announce",
        data={"subject": "Neue Runde", "body": "Hallo", "subject_en": "New round"},
    )
    assert half.status_code == 422 and "beide leer" in half.get_data(as_text=True)

    path = _compose(
        client,
        rnd,
        subject="Neue Runde: Staffel 2027",
        body="Liebe Kolleg*innen, bewerben Sie sich.",
        subject_en="New round: Staffel 2027",
        body_en="Dear colleagues, please apply.",
    )
    assert client.post(f"{path}/dispatch").status_code == 302
    work()
    assert len(smtp.messages) == 20
    for mail in smtp.messages:
        text, html = text_of(mail), html_of(mail)
        if str(mail["To"]) in english:
            assert mail["Subject"] == "New round: Staffel 2027"
            assert "Dear colleagues" in text and "Dear colleagues" in html
            assert "You receive this newsletter" in text and "Liebe" not in text
            assert 'lang="en"' in html
        else:
            assert mail["Subject"] == "Neue Runde: Staffel 2027"
            assert "Liebe Kolleg*innen" in text and "Dear" not in text
            assert 'lang="de"' in html
        assert mail["Reply-To"] == "team@forum.example.org"
        assert "team@forum.example.org" in text

    # Without an English text, English subscribers get the German mail in its German frame.
    smtp.sink.clear()
    second = _compose(client, rnd, subject="Erinnerung", body="Nur noch eine Woche.")
    assert client.post(f"{second}/dispatch", data={"again": "y"}).status_code == 302
    work()
    for mail in smtp.messages:
        assert mail["Subject"] == "Erinnerung"
        assert "Sie erhalten diesen Newsletter" in text_of(mail)
        assert "You receive" not in text_of(mail)
