"""The pages an applicant reaches from mails (issue 11): what matters first (deadline, next
meeting, calendar), accept and decline apart with a second step for declining, withdrawal at
the end; the check-inbox page names the address and lets a typo be fixed without retyping."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from sqlalchemy import select

from forum.extensions import db
from registration import admission
from registration.models import Application
from registration.tokens import Purpose, make_token
from tests.helpers import application_data
from tests.helpers.browser import PHONE


def offered(make_round, make_application, make_organizer, write, **round_kw):
    rnd = make_round(title="Staffel 2027", **round_kw)
    application = make_application(rnd)
    write(admission.decide, application, "admit", make_organizer(forums=[rnd.forum]))
    return rnd, db.session.get(Application, application.id)


def test_offer_page_puts_deadline_and_meeting_first_and_declining_behind_a_step(
    client, make_round, make_application, make_organizer, write
):
    rnd, application = offered(make_round, make_application, make_organizer, write)
    html = client.get(f"/offers/{make_token(Purpose.OFFER, application.public_id)}").get_data(
        as_text=True
    )
    main = html[html.index("<main") :]
    positions = [
        main.index('data-status="offered"'),  # the deadline
        main.index('id="next-meeting-heading"'),
        main.index(f'href="/rounds/{rnd.slug}/meetings.ics"'),
        main.index('value="accept"'),
        main.index('<details class="offer-decline">'),
        main.index('value="decline"'),
    ]
    assert positions == sorted(positions)
    accept_form = re.search(r'<form[^>]*class="offer-accept".*?</form>', main, re.S).group(0)
    assert 'value="decline"' not in accept_form
    decline = re.search(r'<details class="offer-decline">.*?</details>', main, re.S).group(0)
    assert "<summary>" in decline and "nicht rückgängig" in decline


def test_status_page_of_a_participant_leads_with_the_meeting_and_ends_with_withdrawal(
    client, make_round, make_application, make_organizer, write
):
    rnd, application = offered(make_round, make_application, make_organizer, write)
    write(admission.accept_offer, application)
    html = client.get(f"/status/{make_token(Purpose.STATUS, application.public_id)}").get_data(
        as_text=True
    )
    main = html[html.index("<main") :]
    order = [
        main.index('data-status="accepted"'),
        main.index('id="next-meeting-heading"'),
        main.index("meetings.ics"),
        main.index(">Ihre Angaben<"),
        main.index('<details class="card withdraw"'),
    ]
    assert order == sorted(order)
    assert "1. Arbeitstreffen" in main[order[1] : order[2]]


def test_round_calendar_file(client, make_round):
    rnd = make_round(title="Staffel 2027")
    response = client.get(f"/rounds/{rnd.slug}/meetings.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.get_data(as_text=True)
    assert "BEGIN:VEVENT" in body and "Staffel 2027: 1. Arbeitstreffen" in body
    assert client.get("/rounds/gibt-es-nicht/meetings.ics").status_code == 404


def test_check_inbox_names_the_address_and_a_typo_is_fixed_without_retyping(
    client, make_round, smtp, work
):
    rnd = make_round()
    data = application_data(email="anna.mueller@gemeinde-beispeil.de", newsletter="y")
    response = client.post(f"/rounds/{rnd.slug}/apply", data=data)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "anna.mueller@gemeinde-beispeil.de" in page
    fix = re.search(r'href="([^"]*correct=1[^"]*)"', page).group(1)
    form = client.get(html_lib.unescape(fix)).get_data(as_text=True)
    textareas = dict(re.findall(r'<textarea[^>]*name="(\w+)"[^>]*>\s*(.*?)</textarea>', form, re.S))
    assert html_lib.unescape(textareas["motivation"]) == data["motivation"]
    assert html_lib.unescape(textareas["challenge"]) == data["challenge"]
    assert 'value="anna.mueller@gemeinde-beispeil.de"' in form
    assert re.search(r'<input[^>]*checked[^>]*id="commitment"|id="commitment"[^>]*checked', form)
    # The consent is asked again.
    assert not re.search(r'id="privacy_consent"[^>]*checked', form)

    fixed = dict(data, email="anna.mueller@gemeinde-beispiel.de")
    assert client.post(f"/rounds/{rnd.slug}/apply", data=fixed).status_code == 302
    work()
    assert smtp.to("anna.mueller@gemeinde-beispiel.de")
    emails = db.session.scalars(select(Application.email).order_by(Application.id)).all()
    assert emails == ["anna.mueller@gemeinde-beispeil.de", "anna.mueller@gemeinde-beispiel.de"]

    # Once confirmed, or for someone else's session, there is nothing to open again.
    other = client.application.test_client()
    other_page = other.get(f"/rounds/{rnd.slug}/check-inbox").get_data(as_text=True)
    assert "correct=1" not in other_page and "gemeinde-beispiel.de" not in other_page
    assert "gemeinde-beispiel" not in other.get(f"/rounds/{rnd.slug}/apply?correct=1").get_data(
        as_text=True
    )


@pytest.mark.browser
def test_on_a_phone_accept_is_large_and_decline_needs_a_second_step(
    browser, live_server, make_round, make_application, make_organizer, write
):
    _rnd, application = offered(make_round, make_application, make_organizer, write)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{live_server.url}/offers/{make_token(Purpose.OFFER, application.public_id)}")
    accept = page.get_by_role("button", name="Platz annehmen")
    box = accept.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 300
    decline = page.get_by_role("button", name="Ja, Platz endgültig ablehnen")
    assert not decline.is_visible()
    page.get_by_text("Ich kann nicht teilnehmen").click()
    assert decline.is_visible()
    box, decline_box = accept.bounding_box(), decline.bounding_box()  # after any scrolling
    assert decline_box["y"] - (box["y"] + box["height"]) >= 32  # apart from accept
    decline.click()
    page.wait_for_selector("h1:has-text('Sie haben abgelehnt')")
    context.close()
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Application, application.id).status == "declined"
