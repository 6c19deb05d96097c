"""A real browser (Debian's chromium through Playwright, phone and desktop sizes) against the
service under gunicorn: an organizer sees that an applicant's address bounces on the dashboard
and the application page, and lifts the suppression with a reason."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.extensions import db
from forum.models import MailEventKind, Suppression
from forum.suppression import record_event
from tests.helpers.browser import log_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    "viewport", [{"width": 390, "height": 844}, {"width": 1280, "height": 900}]
)
def test_organizer_sees_the_bounce_and_lifts_it(
    browser, live_server, make_round, make_application, make_organizer, write, viewport
):
    rnd = make_round(title="Staffel 2027")
    application = make_application(rnd, first_name="Jürgen", last_name="Öztürk")
    write(
        record_event,
        MailEventKind.HARD_BOUNCE,
        application.email,
        "DSN 5.1.1 smtp; 550 5.1.1 mailbox unavailable",
        "import",
    )
    make_organizer(
        email="orga@forum.example.org",
        password="richtig-langes-passwort",
        forums=[rnd.forum],
    )
    context = browser.new_context(locale="de-DE", viewport=viewport)
    page = context.new_page()
    log_in(page, live_server.url)
    page.get_by_role("link", name="Staffel 2027").click()
    badge = page.locator(f'[data-bounces="{application.id}"]')
    assert badge.inner_text() == "Adresse unzustellbar"
    page.get_by_role("link", name="Jürgen Öztürk").click()
    card = page.locator("#address-bounces")
    assert "550 5.1.1" in card.inner_text()
    box = card.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]  # fits the screen
    page.get_by_role("button", name="Sperre aufheben").click()  # without a reason
    assert "Bitte" in page.locator("#address-bounces").inner_text()
    page.get_by_label("Grund (steht im Verlauf)", exact=False).fill("Neue Adresse bestätigt")
    page.get_by_role("button", name="Sperre aufheben").click()
    assert "Adresssperre ist aufgehoben" in page.locator(".notice").first.inner_text()
    assert page.locator("#address-bounces").count() == 0
    assert (
        "Adresssperre aufgehoben: Neue Adresse bestätigt" in page.locator("#history").inner_text()
    )
    context.close()
    db.session.commit()
    assert db.session.scalar(select(Suppression.lifted_at)) is not None
