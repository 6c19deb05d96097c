"""The language goes with the person (issue 11): whoever applies or subscribes in English gets
mails whose links carry ``?lang=en`` (the contract paths stay the same), and the pages those
links open speak English in a browser that never saw the service; the language switch is kept
in a cookie beyond the session."""

from __future__ import annotations

import re

from sqlalchemy import select

from forum.extensions import db
from registration import admission
from registration.models import Application
from tests.helpers import application_data
from tests.helpers.clients import IsolatedClient
from tests.helpers.newsletter import announce

LINK = re.compile(r"https://forum\.example\.org(/\S+)")


def links(mail) -> list[str]:
    return LINK.findall(mail.get_body(preferencelist=("plain",)).get_content())


def lang_of(response) -> str:
    return re.search(r'<html lang="(\w+)"', response.get_data(as_text=True)).group(1)


def fresh_client(app):
    """Another browser (the requests share the test's app context: see IsolatedClient)."""
    app.test_client_class = IsolatedClient
    return app.test_client()


def test_links_in_english_mails_carry_the_language_and_open_english_pages(
    app, client, make_round, make_organizer, smtp, work, write
):
    rnd = make_round(title="Staffel 2027")
    data = application_data(email="mayor@town.example")
    assert client.post(f"/rounds/{rnd.slug}/apply?lang=en", data=data).status_code == 302
    work()
    [confirm_mail] = smtp.to("mayor@town.example")
    [confirm] = [p for p in links(confirm_mail) if p.startswith("/applications/confirm/")]
    assert re.fullmatch(r"/applications/confirm/[\w.\-]+\?lang=en", confirm)

    reader = fresh_client(app)  # the mail opened on a phone: no session, no cookie
    page = reader.get(confirm)
    assert page.status_code == 200 and lang_of(page) == "en"
    assert reader.post(confirm).status_code == 200
    application = db.session.scalar(select(Application))
    assert application.status == "submitted" and application.locale == "en"

    organizer = make_organizer(forums=[rnd.forum])
    write(admission.decide, application, "admit", organizer)
    work()
    offer_mail = smtp.to("mayor@town.example")[-1]
    found = links(offer_mail)
    offer = next(p for p in found if p.startswith("/offers/"))
    status = next(p for p in found if p.startswith("/status/"))
    assert offer.endswith("?lang=en") and status.endswith("?lang=en")
    for path in (offer, status):
        assert lang_of(fresh_client(app).get(path)) == "en"

    # German applicants' links are as they always were.
    german = application_data(email="buergermeisterin@gemeinde.de")
    assert fresh_client(app).post(f"/rounds/{rnd.slug}/apply", data=german).status_code == 302
    work()
    [mail] = smtp.to("buergermeisterin@gemeinde.de")
    assert all("lang=" not in p for p in links(mail))


def test_newsletter_links_carry_the_language(app, client, runner, make_round, smtp, work):
    rnd = make_round()
    response = client.post(
        "/newsletter?lang=en", data={"email": "reader@town.example", "privacy_consent": "y"}
    )
    assert response.status_code == 302
    work()
    [mail] = smtp.to("reader@town.example")
    [confirm] = [p for p in links(mail) if p.startswith("/newsletter/confirm/")]
    assert confirm.endswith("?lang=en")
    reader = fresh_client(app)
    assert lang_of(reader.get(confirm)) == "en"
    assert reader.post(confirm).status_code == 200
    work()
    announce(runner, rnd)
    work()
    announcement = smtp.to("reader@town.example")[-1]
    [unsubscribe] = [p for p in links(announcement) if p.startswith("/newsletter/unsubscribe/")]
    assert unsubscribe.endswith("?lang=en")
    assert f"<https://forum.example.org{unsubscribe}>" in announcement["List-Unsubscribe"]
    assert lang_of(fresh_client(app).get(unsubscribe)) == "en"
    one_click = fresh_client(app).post(
        unsubscribe,
        data=b"List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert one_click.status_code == 200


def test_language_switch_is_kept_beyond_the_session(app, make_round):
    make_round()
    browser = fresh_client(app)
    first = browser.get("/?lang=en")
    assert lang_of(first) == "en"
    cookie = browser.get_cookie("lang")
    assert cookie is not None and cookie.value == "en" and cookie.expires is not None
    browser.delete_cookie("session")  # the browser was closed: the session cookie is gone
    assert lang_of(browser.get("/newsletter")) == "en"
    assert lang_of(browser.get("/?lang=de")) == "de"
    browser.delete_cookie("session")
    assert lang_of(browser.get("/")) == "de"
    # Nothing but the two languages is stored.
    assert lang_of(browser.get("/?lang=fr")) == "de" and browser.get_cookie("lang").value == "de"
