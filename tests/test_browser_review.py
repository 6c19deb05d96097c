"""A real browser (Debian's chromium through Playwright) against the service under gunicorn: an
organizer logs in and admits, the applicant accepts on the offer page reached from the mail
the SMTP server received."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from forum.extensions import db
from registration.models import Application
from tests.helpers.browser import log_in

pytestmark = pytest.mark.browser


def test_organizer_admits_and_applicant_accepts(
    browser, live_server, make_round, make_application, make_organizer, smtp, work
):
    rnd = make_round(seats=3, title="Staffel 2027")
    application = make_application(rnd, first_name="Jürgen", last_name="Öztürk")
    make_organizer(
        email="orga@forum.example.org",
        password="richtig-langes-passwort",
        admin=False,
        forums=[rnd.forum],
    )

    organizer = browser.new_context(locale="de-DE")
    page = organizer.new_page()
    log_in(page, live_server.url)
    page.get_by_role("link", name="Staffel 2027").click()
    assert page.locator("#seats-summary").inner_text().startswith("0 von 3 Plätzen belegt")
    page.get_by_role("link", name="Jürgen Öztürk").click()
    page.get_by_label("Zulassen (Platz anbieten; ist keiner frei: Warteliste)").check()
    page.get_by_label(re.compile("Nachricht an die")).fill("Wir freuen uns auf Sie!")
    page.get_by_role("button", name="Entscheidung speichern").click()
    assert "wurde ein Platz angeboten" in page.locator(".notice").first.inner_text()
    assert page.locator("#status").get_attribute("data-status") == "offered"
    page.get_by_role("link", name="Staffel 2027").click()
    assert page.locator("#seats-summary").inner_text().startswith("1 von 3 Plätzen belegt")
    organizer.close()

    work()
    mail = smtp.to(application.email)[-1]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Wir freuen uns auf Sie!" in text
    offer_link = re.search(r"(http://127\.0\.0\.1:\d+/offers/\S+)", text)[1]

    applicant = browser.new_context(locale="de-DE")
    page = applicant.new_page()
    page.goto(offer_link)
    assert "Bitte sagen Sie bis" in page.locator("main").inner_text()
    page.get_by_role("button", name="Platz annehmen").click()
    assert "Vielen Dank für Ihre Zusage" in page.locator("main").inner_text()
    assert "Sie haben zugesagt" in page.locator("h1").inner_text()
    applicant.close()

    db.session.commit()
    db.session.expire_all()
    assert db.session.scalar(
        select(Application.status).where(Application.id == application.id)
    ) == ("accepted")
