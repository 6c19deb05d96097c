"""Selection in a real browser (Debian's chromium through Playwright) against the service under
gunicorn, at phone and desktop sizes: an organizer reviews in a blind round, proposes, adjusts
one decision and releases; the applicants get their mails from the real SMTP server."""

from __future__ import annotations

import re

import pytest

from forum.extensions import db
from registration.models import Application
from tests.helpers.browser import log_in

pytestmark = pytest.mark.browser

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


WIDE = """() => Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
               && !(e.parentElement && e.parentElement.closest('.table-wrap')))
  .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"""


def no_sideways_scroll(page) -> bool:
    """Nothing sticks out to the right (wide tables scroll inside their own box)."""
    # After a click the next page may still be loading (without its stylesheet, the tables
    # are wider than a phone): measure the page once it has loaded.
    page.wait_for_load_state("load")
    wide = page.evaluate(WIDE)
    assert wide == [], wide
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_review_propose_adjust_release(
    browser, live_server, make_round, make_application, make_organizer, smtp, work, size
):
    rnd = make_round(
        seats=1, title="Staffel 2027", review_criteria=["Motivation", "Passung"], blind_review=True
    )
    first = make_application(
        rnd,
        first_name="Walburga",
        last_name="Quenstedt",
        organisation="Markt Quenstedt",
        motivation="Quenstedt braucht neue Ideen.",
    )
    second = make_application(rnd, first_name="Ottokar", last_name="Rübezahl")
    make_organizer(
        email="orga@forum.example.org",
        password="richtig-langes-passwort",
        forums=[rnd.forum],
    )
    context = browser.new_context(locale="de-DE", viewport=SIZES[size])
    page = context.new_page()
    log_in(page, live_server.url)
    page.get_by_role("link", name="Staffel 2027").click()
    page.get_by_role("link", name="Meine Bewertungen").click()

    # Blind: the queue shows numbers, not names.
    queue = page.locator("main").inner_text()
    assert "Walburga" not in queue and "Quenstedt" not in queue and "Rübezahl" not in queue
    assert no_sideways_scroll(page)
    for application, scores in ((first, ("5", "4")), (second, ("2", "3"))):
        page.get_by_role("link", name=f"Bewerbung Nr. {application.id}").click()
        text = page.locator("main").inner_text()
        assert "Quenstedt" not in text and "Walburga" not in text
        page.get_by_role("group", name=re.compile("^Motivation")).get_by_label(scores[0]).check()
        page.get_by_role("group", name=re.compile("^Passung")).get_by_label(scores[1]).check()
        page.get_by_role("button", name="Bewertung speichern").click()
        assert "Bewertung gespeichert" in page.locator(".notice").first.inner_text()
        assert no_sideways_scroll(page)
        page.get_by_role("link", name="Meine Bewertungen").click()
    assert page.locator("#queue-count").get_attribute("data-count") == "0"

    # The selection page: propose, then adjust the second to a rejection, then release.
    page.get_by_role("link", name=re.compile("Zur Auswahl")).click()
    page.get_by_role("button", name="Vorschlagen").click()
    assert (
        "Vorschlag vorgemerkt: 1 zulassen, 1 auf die Warteliste"
        in page.locator(".notice").first.inner_text()
    )
    assert page.locator(f"#row-{first.id}").get_attribute("data-staged") == "admit"
    # Decisions are staged: the names show again.
    assert "Walburga Quenstedt" in page.locator("#ranking").inner_text()
    row = page.locator(f"#row-{second.id}")
    row.get_by_label("Absagen", exact=True).check()
    row.get_by_label(re.compile("Nachricht an die")).fill("Diesmal leider nicht.")
    row.get_by_role("button", name="Vormerken").click()
    assert page.locator(f"#row-{second.id}").get_attribute("data-staged") == "reject"
    assert no_sideways_scroll(page)
    page.get_by_role("button", name="Freigeben und E-Mails verschicken").click()
    assert "2 vorgemerkte Entscheidungen freigegeben" in page.locator(".notice").first.inner_text()
    context.close()

    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Application, first.id).status == "offered"
    assert db.session.get(Application, second.id).status == "rejected"
    work()
    assert len(smtp.to(first.email)) == 1 and len(smtp.to(second.email)) == 1
    body = smtp.to(second.email)[0].get_body(preferencelist=("plain",)).get_content()
    assert "Diesmal leider nicht." in body
