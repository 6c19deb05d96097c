"""The applicant's side of an offer, through the mails a real SMTP server received and HTTP:
the offer page, accept and decline, the status page with its actions, bad and used links."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from forum.db import utcnow
from forum.extensions import db
from registration.models import Application
from registration.tokens import Purpose, make_token

LINK = re.compile(r"https://forum\.example\.org(/\S+)")


def reload(application: Application) -> Application:
    db.session.commit()  # a new transaction sees what other connections committed
    db.session.expire_all()
    return db.session.get(Application, application.id)


def mail_link(message, prefix: str) -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    return next(p for p in LINK.findall(body) if p.startswith(prefix))


def admit_all(client, login, applications) -> None:
    login()
    for a in applications:
        response = client.post(f"/admin/applications/{a.id}/decision", data={"action": "admit"})
        assert response.status_code == 302


def test_offer_accept_through_mail_and_page(
    client, login, make_round, make_application, smtp, work
):
    rnd = make_round(seats=1, offer_hours=48)
    application = make_application(rnd)
    admit_all(client, login, [application])
    work()
    offer_mail = smtp.to(application.email)[-1]
    assert offer_mail["Subject"].startswith(f"Ihr Platz in „{rnd.title}“")
    offer_path = mail_link(offer_mail, "/offers/")
    deadline = reload(application).offer_deadline
    assert deadline - utcnow() > timedelta(hours=47)

    # GET (a mail scanner, or the applicant looking) changes nothing.
    for _ in range(2):
        page = client.get(offer_path)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert '<button type="submit" name="action" value="accept">' in html
        assert '<button type="submit" name="action" value="decline"' in html
        assert "Bitte sagen Sie bis" in html
        assert "1. Arbeitstreffen" in html
    assert reload(application).status == "offered"

    response = client.post(offer_path, data={"action": "accept"})
    assert response.status_code == 302
    assert reload(application).status == "accepted"
    done = client.get(offer_path)
    assert "Sie haben zugesagt" in done.get_data(as_text=True)
    assert "Vielen Dank für Ihre Zusage" in done.get_data(as_text=True)

    # The link cannot act twice.
    again = client.post(offer_path, data={"action": "decline"})
    assert again.status_code == 409
    assert "Sie haben zugesagt" in again.get_data(as_text=True)
    assert reload(application).status == "accepted"

    work()
    accepted = smtp.to(application.email)[-1]
    assert accepted["Subject"].startswith("Zusage bestätigt")
    assert any(p.get_filename() == f"{rnd.slug}.ics" for p in accepted.iter_attachments())

    # The status page (link from the mails) shows the seat and offers withdrawal.
    status_path = mail_link(accepted, "/status/")
    status = client.get(status_path).get_data(as_text=True)
    assert 'data-status="accepted"' in status
    assert 'name="confirm"' in status and "Bewerbung zurückziehen" in status


def test_decline_promotes_the_next(client, login, make_round, make_application, smtp, work):
    rnd = make_round(seats=1)
    first, second = make_application(rnd), make_application(rnd)
    admit_all(client, login, [first, second])
    work()
    waitlist_mail = smtp.to(second.email)[-1]
    assert "derzeit auf Platz 1" in waitlist_mail.get_body(("plain",)).get_content()
    offer_path = mail_link(smtp.to(first.email)[-1], "/offers/")
    response = client.post(offer_path, data={"action": "decline"})
    assert response.status_code == 302
    assert reload(first).status == "declined"
    assert reload(second).status == "offered"
    work()
    assert smtp.to(first.email)[-1]["Subject"].startswith("Platz abgelehnt")
    promoted_mail = smtp.to(second.email)[-1]
    assert "/offers/" in promoted_mail.get_body(("plain",)).get_content()


def test_bad_links_and_bad_input_give_clear_pages(
    client, login, make_round, make_application, work
):
    rnd = make_round(seats=1)
    application = make_application(rnd)
    admit_all(client, login, [application])
    token = make_token(Purpose.OFFER, application.public_id)

    forged = client.get(f"/offers/{token[:-3]}xyz")
    assert forged.status_code == 404
    assert "Dieser Link ist ungültig" in forged.get_data(as_text=True)
    assert client.post(f"/offers/{token[:-3]}xyz", data={"action": "accept"}).status_code == 404
    # A token made for another purpose does not open the offer.
    status_token = make_token(Purpose.STATUS, application.public_id)
    assert client.get(f"/offers/{status_token}").status_code == 404
    assert client.get("/offers/" + "a" * 500).status_code == 404
    unknown = make_token(Purpose.OFFER, "no-such-application")
    assert client.get(f"/offers/{unknown}").status_code == 404
    # Bad actions change nothing.
    for data in ({}, {"action": "both"}, {"action": "ACCEPT"}):
        response = client.post(f"/offers/{token}", data=data)
        assert response.status_code == 400
        assert "Bitte wählen Sie" in response.get_data(as_text=True)
    assert reload(application).status == "offered"
    # A forged status link.
    assert client.get("/status/nonsense").status_code == 404
    assert client.post("/status/nonsense/withdraw", data={"confirm": "y"}).status_code == 404


def test_expired_offer(client, login, make_round, make_application, smtp, work):
    rnd = make_round(seats=1, offer_hours=1)
    first, second = make_application(rnd), make_application(rnd)
    admit_all(client, login, [first, second])
    db.session.execute(
        update(Application)
        .where(Application.id == first.id)
        .values(offer_deadline=utcnow() - timedelta(minutes=5))
    )
    db.session.commit()
    token = make_token(Purpose.OFFER, first.public_id)
    page = client.get(f"/offers/{token}")
    assert page.status_code == 410
    assert "Das Angebot ist abgelaufen" in page.get_data(as_text=True)
    assert 'value="accept"' not in page.get_data(as_text=True)
    assert reload(first).status == "offered"  # GET changed nothing
    # Accepting after the deadline: the offer lapses now and the seat moves on.
    late = client.post(f"/offers/{token}", data={"action": "accept"})
    assert late.status_code == 410
    assert reload(first).status == "lapsed"
    assert reload(second).status == "offered"
    work()
    assert smtp.to(first.email)[-1]["Subject"].startswith("Platzangebot verfallen")


def test_status_page_actions(client, login, make_round, make_application, smtp, work):
    rnd = make_round(seats=1)
    first, second, third = (make_application(rnd) for _ in range(3))
    admit_all(client, login, [first, second, third])
    work()
    second_status = mail_link(smtp.to(second.email)[-1], "/status/")
    page = client.get(second_status).get_data(as_text=True)
    assert 'data-status="waitlisted"' in page and "derzeit auf Platz 1" in page
    assert 'value="accept"' not in page

    first_status = mail_link(smtp.to(first.email)[-1], "/status/")
    page = client.get(first_status).get_data(as_text=True)
    assert 'data-status="offered"' in page
    assert re.search(r'<form method="post" action="/offers/[^"]+"', page)
    assert 'name="action" value="accept"' in page

    # Withdrawal needs the confirmation box; the error is tied to the field.
    bad = client.post(first_status + "/withdraw", data={})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'id="confirm-error"' in html
    assert re.search(r'aria-describedby="confirm-error"[^>]*aria-invalid="true"', html)
    assert reload(first).status == "offered"

    done = client.post(first_status + "/withdraw", data={"confirm": "y"}, follow_redirects=True)
    assert done.status_code == 200
    assert "zurückgezogen" in done.get_data(as_text=True)
    assert reload(first).status == "withdrawn"
    assert reload(second).status == "offered"
    assert reload(third).waitlist_position == 1
    again = client.post(first_status + "/withdraw", data={"confirm": "y"}, follow_redirects=True)
    assert "lässt sich nicht mehr zurückziehen" in again.get_data(as_text=True)
    work()
    assert smtp.to(first.email)[-1]["Subject"].startswith("Bewerbung zurückgezogen")


def test_offer_form_needs_csrf(make_app, client, login, make_round, make_application):
    rnd = make_round(seats=1)
    application = make_application(rnd)
    admit_all(client, login, [application])
    strict = make_app(WTF_CSRF_ENABLED=True)
    c = strict.test_client()
    c.environ_base["HTTP_REFERER"] = "https://localhost/"
    token = make_token(Purpose.OFFER, application.public_id)
    assert c.post(f"/offers/{token}", data={"action": "accept"}).status_code == 400
    assert reload(application).status == "offered"
    page = c.get(f"/offers/{token}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
    response = c.post(f"/offers/{token}", data={"action": "accept", "csrf_token": csrf})
    assert response.status_code == 302, response.headers
    assert reload(application).status == "accepted"
