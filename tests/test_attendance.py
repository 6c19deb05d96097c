"""Agenda, documentation and attendance per meeting (issue 8, part 4): the organizer pages,
the status page of seat holders, the dashboard's figures, the CSV column ``attendance``, the
agenda in the reminder; a tablet-sized browser at the door."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from forum.db import utcnow
from forum.extensions import db
from forum.models import Forum, Meeting
from registration import admission
from registration.models import Application, Attendance
from registration.tokens import Purpose, make_token


def add_meeting(rnd, key, days, **values):
    starts = utcnow() + timedelta(days=days)
    db.session.add(
        Meeting(
            round_id=rnd.id,
            key=key,
            title=values.pop("title", f"Treffen {key}"),
            starts=starts,
            ends=starts + timedelta(hours=6),
            venue="Regensburg",
            **values,
        )
    )
    db.session.commit()


@pytest.fixture
def running(make_round, make_application, write):
    """Two meetings held, one cancelled, one ahead (m1 from make_round); two accepted, one
    offered, one waitlisted."""
    rnd = make_round(seats=3)
    add_meeting(rnd, "erstes", -20, title="Auftakt")
    add_meeting(rnd, "zweites", -10, title="Werkstatt")
    add_meeting(rnd, "ausgefallen", -5, cancelled=True)
    people = {}
    for name in ("anna", "bert", "cem", "dora"):
        people[name] = make_application(rnd, email=f"{name}@gemeinde.de", last_name=name.title())
    for name in ("anna", "bert", "cem", "dora"):
        write(admission.decide, db.session.get(Application, people[name].id), "admit")
    for name in ("anna", "bert"):
        write(admission.accept_offer, db.session.get(Application, people[name].id))
    assert db.session.get(Application, people["dora"].id).status == "waitlisted"
    return rnd, people


def attendance_rows() -> dict[tuple[str, str], str]:
    db.session.commit()
    return {
        (m_key, email.split("@")[0]): status
        for m_key, email, status in db.session.execute(
            select(Meeting.key, Application.email, Attendance.status)
            .join(Meeting, Meeting.id == Attendance.meeting_id)
            .join(Application, Application.id == Attendance.application_id)
        )
    }


def test_attendance_dashboard_and_csv(client, login, running):
    rnd, p = running
    login()
    url = f"/admin/rounds/{rnd.slug}/meetings/erstes/attendance"
    page = client.get(url).get_data(as_text=True)
    for name in ("anna", "bert", "cem"):
        assert f'name="status-{p[name].id}" value="attended"' in page
    assert f"status-{p['dora'].id}" not in page  # waitlisted: no seat

    response = client.post(
        url,
        data={
            f"status-{p['anna'].id}": "attended",
            f"status-{p['bert'].id}": "excused",
            f"status-{p['cem'].id}": "absent",
        },
    )
    assert response.status_code == 302
    again = client.get(url).get_data(as_text=True)
    assert f'name="status-{p["anna"].id}" value="attended" checked' in again
    assert f'name="status-{p["bert"].id}" value="excused" checked' in again
    second = f"/admin/rounds/{rnd.slug}/meetings/zweites/attendance"
    assert client.post(second, data={f"status-{p['anna'].id}": "attended"}).status_code == 302
    # Correcting an entry changes it, does not add one.
    assert client.post(url, data={f"status-{p['cem'].id}": "excused"}).status_code == 302
    assert attendance_rows() == {
        ("erstes", "anna"): "attended",
        ("erstes", "bert"): "excused",
        ("erstes", "cem"): "excused",
        ("zweites", "anna"): "attended",
    }

    dashboard = client.get(f"/admin/rounds/{rnd.slug}").get_data(as_text=True)
    row = dashboard.split('data-meeting="erstes"')[1].split("</tr>")[0]
    assert [c.split("<")[0] for c in row.split('class="num">')[1:]] == ["1", "2", "0"]

    export = client.get(f"/admin/rounds/{rnd.slug}/applications.csv").get_data(as_text=True)
    rows = {
        r["email"].split("@")[0]: r for r in csv.DictReader(io.StringIO(export.lstrip("\ufeff")))
    }
    assert {name: rows[name]["attendance"] for name in rows} == {
        "anna": "2/2",  # two held (the cancelled one and the one ahead do not count)
        "bert": "0/2",
        "cem": "0/2",
        "dora": "",
    }


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("status-{dora}", "attended", "nicht zu diesem Treffen gehört"),
        ("status-{anna}", "present", "Unbekannter Wert „present“"),
        ("status-abc", "attended", "nicht zu diesem Treffen gehört"),
        ("status-99999999999", "attended", "nicht zu diesem Treffen gehört"),
    ],
)
def test_bad_attendance_changes_nothing(client, login, running, field, value, expected):
    rnd, p = running
    login()
    data = {
        f"status-{p['anna'].id}": "attended",
        field.format(dora=p["dora"].id, anna=p["anna"].id): value,
    }
    response = client.post(f"/admin/rounds/{rnd.slug}/meetings/erstes/attendance", data=data)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert expected in body and "Es wurde nichts gespeichert." in body
    assert attendance_rows() == {}


def test_other_forums_and_unknown_meetings_are_404(client, login, running):
    rnd, p = running
    foreign = Forum(slug="anderes", title="Anderes Forum")
    db.session.add(foreign)
    db.session.commit()
    login(admin=False, forums=[foreign])
    base = f"/admin/rounds/{rnd.slug}/meetings"
    assert client.get(f"{base}/erstes/attendance").status_code == 404
    assert client.get(f"{base}/erstes").status_code == 404
    data = {f"status-{p['anna'].id}": "attended"}
    assert client.post(f"{base}/erstes/attendance", data=data).status_code == 404
    assert attendance_rows() == {}


def test_agenda_and_documentation_reach_seat_holders(client, login, running, runner, smtp, work):
    rnd, p = running
    login()
    url = f"/admin/rounds/{rnd.slug}/meetings/m1"
    bad = client.post(url, data={"agenda": "Punkt\x07eins", "documentation": ""})
    assert bad.status_code == 400
    assert "enthält ein Steuerzeichen" in bad.get_data(as_text=True)
    response = client.post(
        url,
        data={
            "agenda": "**Begrüßung** der Teilnehmer*innen\r\n\r\n- Fallberatung",
            "documentation": "Protokoll folgt.",
        },
    )
    assert response.status_code == 302
    db.session.commit()
    meeting = db.session.scalar(select(Meeting).where(Meeting.key == "m1"))
    assert meeting.agenda == "**Begrüßung** der Teilnehmer*innen\n\n- Fallberatung"
    assert meeting.sequence == 0  # not a calendar change

    def status_page(name):
        token = make_token(Purpose.STATUS, db.session.get(Application, p[name].id).public_id)
        return client.get(f"/status/{token}").get_data(as_text=True)

    anna = status_page("anna")
    assert "<strong>Begrüßung</strong> der Teilnehmer*innen" in anna
    assert "<li>Fallberatung</li>" in anna and "Protokoll folgt." in anna
    assert 'href="/rounds/' in anna and "meetings.ics" in anna
    dora = status_page("dora")
    assert "Begrüßung" not in dora and "meetings.ics" not in dora

    # The reminder carries the agenda.
    work()
    smtp.sink.clear()
    meeting.starts = utcnow() + timedelta(hours=30)
    meeting.ends = meeting.starts + timedelta(hours=5)
    db.session.commit()
    result = runner.invoke(args=["maintenance", "run"])
    assert "meeting_reminders: 2" in result.output, result.output
    work()
    (mail,) = smtp.to(p["anna"].email)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Tagesordnung:" in text and "- Fallberatung" in text
    assert "<li>Fallberatung</li>" in mail.get_body(preferencelist=("html",)).get_content()

    # The forum file keeps what was written on the page.
    exported = runner.invoke(args=["forum", "export", rnd.forum.slug]).output
    assert 'agenda = """' in exported  # several lines: a multi-line string
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0
