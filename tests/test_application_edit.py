"""Applicants edit their own application from the status page (issue 8, part 7): while
submitted or waitlisted, with the public form's checks and the round's eligibility rules; the
history records what changed and organizers see it; erasure keeps no old values."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.extensions import db
from registration import admission
from registration.models import Application, ApplicationEvent
from registration.privacy import erase_applications
from registration.tokens import Purpose, make_token


def token_of(application) -> str:
    return make_token(Purpose.STATUS, application.public_id)


def form_values(application, **changes) -> dict:
    values = {
        "phone": application.phone,
        "organisation": application.organisation,
        "body_type": application.body_type,
        "state": application.state,
        "role": application.role,
        "department": application.department,
        "motivation": application.motivation,
        "challenge": application.challenge,
    }
    values.update(changes)
    return values


def reload(application) -> Application:
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Application, application.id)


def test_edit_while_submitted_and_organizers_see_it(client, login, make_round, make_application):
    rnd = make_round()
    application = make_application(rnd, organisation="Gemeinde Alt", phone="0911 1")
    token = token_of(application)
    status = client.get(f"/status/{token}").get_data(as_text=True)
    assert f'href="/status/{token}/edit"' in status
    page = client.get(f"/status/{token}/edit").get_data(as_text=True)
    assert 'value="Gemeinde Alt"' in page and 'name="motivation"' in page

    response = client.post(
        f"/status/{token}/edit",
        data=form_values(
            application,
            organisation="Markt Neu",
            state="DE-BW",
            role="deputy",
            phone="0711 2",
            motivation="Neu gefasst.",
        ),
    )
    assert response.status_code == 302
    application = reload(application)
    assert (application.organisation, application.state, application.role) == (
        "Markt Neu",
        "DE-BW",
        "deputy",
    )
    assert application.organisation_normalized == "markt neu"
    assert application.motivation == "Neu gefasst."
    event = application.events[-1]
    assert event.actor == "applicant" and event.to_status == "submitted"
    assert "Kommune / Organisation: Gemeinde Alt → Markt Neu" in event.reason
    assert "Bundesland: Bayern → Baden-Württemberg" in event.reason
    assert "Telefon: 0911 1 → 0711 2" in event.reason
    assert "Motivation neu gefasst" in event.reason

    login()
    admin_page = client.get(f"/admin/applications/{application.id}").get_data(as_text=True)
    assert "Gemeinde Alt → Markt Neu" in admin_page

    # The same values again: nothing to change, no history row.
    events = len(application.events)
    client.post(f"/status/{token}/edit", data=form_values(application))
    assert len(reload(application).events) == events


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"state": "DE-NW"}, "state", "gehört nicht dazu"),
        ({"role": "staff"}, "role", "gehört nicht dazu"),
        ({"state": "DE-XX"}, "state", "Bitte wählen Sie aus."),
        ({"organisation": ""}, "organisation", "Bitte füllen Sie dieses Feld aus."),
        ({"phone": "1\n2"}, "phone", "Bitte ohne Zeilenumbrüche und ohne Steuerzeichen."),
        ({"motivation": "x" * 5001}, "motivation", "5000"),
    ],
)
def test_bad_edits_change_nothing(client, make_round, make_application, changes, field, expected):
    rnd = make_round()
    application = make_application(rnd)
    before = (application.state, application.role, application.organisation, application.phone)
    events = len(application.events)
    response = client.post(
        f"/status/{token_of(application)}/edit", data=form_values(application, **changes)
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert expected in html.split(f'id="{field}-error"')[1].split("</p>")[0]
    application = reload(application)
    assert (application.state, application.role, application.organisation, application.phone) == (
        before
    )
    assert len(application.events) == events


def test_only_while_submitted_or_waitlisted(client, make_round, make_application, write):
    rnd = make_round(seats=1)
    first, second = make_application(rnd), make_application(rnd)
    write(admission.decide, db.session.get(Application, first.id), "admit")
    write(admission.decide, db.session.get(Application, second.id), "admit")
    assert reload(second).status == "waitlisted"
    ok = client.post(
        f"/status/{token_of(second)}/edit", data=form_values(second, organisation="Stadt W")
    )
    assert ok.status_code == 302 and reload(second).organisation == "Stadt W"

    offered = reload(first)
    assert offered.status == "offered"
    assert "/edit" not in client.get(f"/status/{token_of(offered)}").get_data(as_text=True)
    response = client.post(
        f"/status/{token_of(offered)}/edit", data=form_values(offered, organisation="Anders")
    )
    assert response.status_code == 302
    assert reload(offered).organisation != "Anders"
    assert client.get("/status/kaputt/edit").status_code == 404


def test_erasure_keeps_no_old_values(client, make_round, make_application, write):
    rnd = make_round()
    application = make_application(rnd, organisation="Gemeinde Geheim", phone="0911 99")
    client.post(
        f"/status/{token_of(application)}/edit",
        data=form_values(application, organisation="Gemeinde Neu", phone=""),
    )
    write(erase_applications, application.email_normalized, "auf Wunsch")
    reasons = db.session.scalars(
        select(ApplicationEvent.reason).where(ApplicationEvent.application_id == application.id)
    ).all()
    assert "Angaben geändert" in reasons
    assert not any("Geheim" in r or "0911" in r for r in reasons)
