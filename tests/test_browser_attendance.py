"""The attendance list in a real browser (Debian's chromium through Playwright) against the
service under gunicorn, at the door on a phone and on a tablet, in German and English."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from forum.db import utcnow
from forum.extensions import db
from forum.models import Meeting
from registration import admission
from registration.models import Application, Attendance
from tests.helpers.browser import log_in

pytestmark = pytest.mark.browser

PASSWORD = "richtig-langes-passwort"


@pytest.mark.parametrize(
    ("viewport", "lang", "labels", "save"),
    [
        (
            {"width": 390, "height": 844},
            "de",
            ("anwesend", "entschuldigt"),
            "Anwesenheit speichern",
        ),
        ({"width": 1024, "height": 768}, "en", ("present", "excused"), "Save attendance"),
    ],
)
def test_attendance_at_the_door(
    browser,
    live_server,
    make_round,
    make_application,
    make_organizer,
    write,
    viewport,
    lang,
    labels,
    save,
):
    rnd = make_round(seats=3, title="Staffel 2027")
    meeting = db.session.scalar(select(Meeting).where(Meeting.round_id == rnd.id))
    meeting.starts = utcnow() - timedelta(hours=2)
    meeting.ends = utcnow() + timedelta(hours=3)
    db.session.commit()
    anna = make_application(rnd, first_name="Anna", last_name="Ärmel")
    bert = make_application(rnd, first_name="Bert", last_name="Brösel")
    for a in (anna, bert):
        write(admission.decide, db.session.get(Application, a.id), "admit")
        write(admission.accept_offer, db.session.get(Application, a.id))
    make_organizer(email="orga@forum.example.org", password=PASSWORD, forums=[rnd.forum])

    context = browser.new_context(viewport=viewport, locale="de-DE", has_touch=True)
    page = context.new_page()
    log_in(page, live_server.url, lang=lang)
    page.goto(f"{live_server.url}/admin/rounds/{rnd.slug}/meetings/m1/attendance")
    row_a = page.locator(f"#person-{anna.id}")
    row_b = page.locator(f"#person-{bert.id}")
    assert "Anna Ärmel" in row_a.inner_text()
    row_a.get_by_text(labels[0], exact=True).tap()
    row_b.get_by_text(labels[1], exact=True).tap()
    # Large enough for a finger, and nothing wider than the screen.
    box = row_a.locator("label.choice").first.bounding_box()
    assert box["height"] >= 44
    overflow = page.evaluate(
        "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )
    assert overflow <= 0
    page.get_by_role("button", name=save).click()
    assert page.locator(f"#person-{anna.id} input[value=attended]").is_checked()
    assert page.locator(f"#person-{bert.id} input[value=excused]").is_checked()
    page.goto(f"{live_server.url}/admin/rounds/{rnd.slug}")
    row = page.locator('#meeting-figures tr[data-meeting="m1"] td.num')
    assert row.all_inner_texts() == ["1", "1", "0"]
    context.close()

    db.session.commit()
    db.session.expire_all()
    recorded = dict(db.session.execute(select(Attendance.application_id, Attendance.status)).all())
    assert recorded == {anna.id: "attended", bert.id: "excused"}
