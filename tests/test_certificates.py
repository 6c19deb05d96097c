"""Certificates of attendance (issue 8, part 5): PDFs made with fpdf2 and the embedded DejaVu
font, checked by extracting their text with pypdf; the participant's own (404 before they
attended), and for organizers one or all of a round."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from forum.db import utcnow
from forum.extensions import db
from forum.models import Forum, Meeting
from registration import admission
from registration.models import Application
from registration.tokens import Purpose, make_token


def pdf_pages(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages]


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def held(make_round, make_application, write):
    """A round with two meetings held; Jürgen (German) and Zoë (English) accepted."""
    rnd = make_round(seats=3, title="Staffel 2027")
    forum = rnd.forum
    forum.title = "Meine Kommune weiterdenken"
    forum.contact_name = "Dr. Grete Weiß"
    first = db.session.scalar(select(Meeting).where(Meeting.round_id == rnd.id))
    first.title = "Auftakt in Nürnberg"
    first.starts = utcnow() - timedelta(days=30)
    first.ends = first.starts + timedelta(hours=6)
    second = Meeting(
        round_id=rnd.id,
        key="m2",
        title="Werkstatt „Daseinsvorsorge“",
        starts=utcnow() - timedelta(days=3),
        ends=utcnow() - timedelta(days=3) + timedelta(hours=5),
        venue="Würzburg",
    )
    db.session.add(second)
    db.session.commit()
    juergen = make_application(
        rnd, first_name="Jürgen", last_name="Öztürk-Groß", organisation="Gemeinde Fürstenfeldbruck"
    )
    zoe = make_application(rnd, first_name="Zoë", last_name="Ångström", locale="en")
    for a in (juergen, zoe):
        write(admission.decide, db.session.get(Application, a.id), "admit")
        write(admission.accept_offer, db.session.get(Application, a.id))
    return rnd, juergen, zoe


def status_url(application) -> str:
    return "/status/" + make_token(Purpose.STATUS, application.public_id)


def test_own_certificate_after_attending(client, login, held):
    rnd, juergen, zoe = held
    # Before any attendance: no certificate, no link.
    assert client.get(status_url(juergen) + "/certificate.pdf").status_code == 404
    assert "certificate.pdf" not in client.get(status_url(juergen)).get_data(as_text=True)

    organizer = login()
    for key, status in (("m1", "attended"), ("m2", "attended")):
        data = {f"status-{juergen.id}": status, f"status-{zoe.id}": "excused"}
        url = f"/admin/rounds/{rnd.slug}/meetings/{key}/attendance"
        assert organizer.post(url, data=data).status_code == 302
    organizer.post("/admin/logout")

    own = status_url(juergen)  # one token (a new one each second)
    page = client.get(own).get_data(as_text=True)
    assert f'href="{own}/certificate.pdf"' in page
    (text,) = pdf_pages(client.get(own + "/certificate.pdf"))
    text = squash(text)
    for expected in (
        "Teilnahmebescheinigung",
        "Jürgen Öztürk-Groß",
        "Gemeinde Fürstenfeldbruck",
        "„Staffel 2027“",
        "„Meine Kommune weiterdenken“",
        "Auftakt in Nürnberg",
        "Werkstatt „Daseinsvorsorge“, Würzburg",
        "Dr. Grete Weiß",
    ):
        assert expected in text, (expected, text)
    # Excused only: no certificate.
    assert client.get(status_url(zoe) + "/certificate.pdf").status_code == 404
    assert client.get("/status/kaputt/certificate.pdf").status_code == 404


def test_organizers_get_one_or_all(client, login, held, make_application, write):
    rnd, juergen, zoe = held
    login()
    for person in (juergen, zoe):
        url = f"/admin/rounds/{rnd.slug}/meetings/m1/attendance"
        assert client.post(url, data={f"status-{person.id}": "attended"}).status_code == 302

    pages = [squash(t) for t in pdf_pages(client.get(f"/admin/rounds/{rnd.slug}/certificates.pdf"))]
    assert len(pages) == 2
    assert "Zoë Ångström" in pages[0] and "Certificate of attendance" in pages[0]  # by name
    assert "Jürgen Öztürk-Groß" in pages[1] and "Teilnahmebescheinigung" in pages[1]
    assert "Werkstatt" not in pages[1]  # only the meetings attended

    (one,) = pdf_pages(client.get(f"/admin/applications/{juergen.id}/certificate.pdf"))
    assert "Jürgen Öztürk-Groß" in squash(one)
    admin_page = client.get(f"/admin/applications/{juergen.id}").get_data(as_text=True)
    assert f'href="/admin/applications/{juergen.id}/certificate.pdf"' in admin_page
    dashboard = client.get(f"/admin/rounds/{rnd.slug}").get_data(as_text=True)
    assert f'href="/admin/rounds/{rnd.slug}/certificates.pdf"' in dashboard

    nobody = make_application(rnd)
    assert client.get(f"/admin/applications/{nobody.id}/certificate.pdf").status_code == 404


def test_no_certificates_yet_and_other_forums(client, login, held):
    rnd, juergen, _zoe = held
    foreign = Forum(slug="anderes", title="Anderes Forum")
    db.session.add(foreign)
    db.session.commit()
    login(admin=False, forums=[rnd.forum])
    assert client.get(f"/admin/rounds/{rnd.slug}/certificates.pdf").status_code == 404
    client.post("/admin/logout")
    login(email="fremd@forum.example.org", admin=False, forums=[foreign])
    assert client.get(f"/admin/applications/{juergen.id}/certificate.pdf").status_code == 404
