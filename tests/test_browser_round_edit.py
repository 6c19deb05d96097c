"""The round's edit page in a real browser (Debian's chromium through Playwright) against the
service under gunicorn: German on a phone, English on a desktop; a bad value is shown at its
field, a moved meeting is saved in Berlin time."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from forum.extensions import db
from forum.models import Meeting, Round
from tests.helpers.browser import log_in
from tests.helpers.forum_files import MEETINGS_FILE, load

pytestmark = pytest.mark.browser

PASSWORD = "richtig-langes-passwort"


@pytest.mark.parametrize(
    ("viewport", "lang", "seats_label", "venue_label", "save", "saved", "too_few"),
    [
        (
            {"width": 390, "height": 844},
            "de",
            "Plätze",
            "Ort",
            "Runde speichern",
            "gespeichert",
            "muss mindestens 1 sein",
        ),
        (
            {"width": 1280, "height": 900},
            "en",
            "Seats",
            "Venue",
            "Save round",
            "is saved",
            "must be at least 1",
        ),
    ],
)
def test_edit_round_in_the_browser(
    browser,
    live_server,
    runner,
    tmp_path,
    make_organizer,
    viewport,
    lang,
    seats_label,
    venue_label,
    save,
    saved,
    too_few,
):
    assert load(runner, tmp_path, MEETINGS_FILE).exit_code == 0
    forum_id = db.session.scalar(select(Round.forum_id))
    from forum.models import Forum

    make_organizer(
        email="orga@forum.example.org", password=PASSWORD, forums=[db.session.get(Forum, forum_id)]
    )
    context = browser.new_context(viewport=viewport, locale="de-DE")
    page = context.new_page()
    log_in(page, live_server.url, lang=lang)
    page.goto(f"{live_server.url}/admin/rounds/mkw-2027/edit")

    seats = page.get_by_label(re.compile(f"^{seats_label}( \\*)?$"))
    assert seats.input_value() == "2"
    seats.fill("0")
    page.get_by_role("button", name=save).click()
    error = page.locator("#seats-error")
    assert too_few in error.inner_text()  # in the page's language
    assert page.locator("#seats").get_attribute("aria-describedby") == "seats-error"
    overflow = page.evaluate(
        "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )
    assert overflow <= 0

    page.get_by_label(re.compile(f"^{seats_label}( \\*)?$")).fill("5")
    page.locator("#meeting-1").get_by_label(re.compile(f"^{venue_label}( \\*)?$")).fill("Fürth")
    page.locator("#meetings-1-starts").fill("2027-03-10T09:15")
    page.get_by_role("button", name=save).click()
    assert saved in page.locator(".notice").first.inner_text()
    context.close()

    db.session.commit()
    db.session.expire_all()
    rnd = db.session.scalar(select(Round))
    meeting = db.session.scalar(select(Meeting).where(Meeting.key == "m1"))
    assert rnd.seats == 5
    assert meeting.venue == "Fürth"
    assert meeting.starts.isoformat() == "2027-03-10T08:15:00+00:00"  # 09:15 in Berlin (CET)
