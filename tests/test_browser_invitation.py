"""The invitation link in a real browser (Debian's chromium through Playwright) at phone size
against the service under gunicorn: the invited person opens the link from the mail the SMTP
server received, finds the form prefilled, and is registered without a confirmation step."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from forum.extensions import db
from registration.models import Application

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize(
    "viewport", [PHONE, {"width": 1280, "height": 900}], ids=["phone", "desktop"]
)
def test_invitation_form_in_the_browser(
    browser,  # noqa: F811
    live_server,
    make_round,
    runner,
    smtp,
    work,
    tmp_path,
    viewport,
):
    rnd = make_round(title="Steuergruppe 2027", invitation_only=True)
    csv_path = tmp_path / "liste.csv"
    csv_path.write_text(
        "email,first_name,last_name,organisation,state,role,body_type\n"
        "ob@stadt-beispiel.de,Jürgen,Öztürk,Stadt Beispiel,DE-BY,lord_mayor,city\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["round", "invite", rnd.slug, str(csv_path)])
    assert result.exit_code == 0, result.output
    # The command ran in the test's app (base URL https://forum.example.org): the path of the
    # link is what matters, the browser opens it on the live server.
    work()
    text = smtp.to("ob@stadt-beispiel.de")[0].get_body(preferencelist=("plain",)).get_content()
    path = re.search(r"https://forum\.example\.org(/invitations/\S+)", text)[1]

    context = browser.new_context(locale="de-DE", viewport=viewport)
    page = context.new_page()
    page.goto(live_server.url + path)
    assert (
        "Persönliche Einladung für Jürgen Öztürk" in page.locator("#invitation-notice").inner_text()
    )
    assert page.get_by_label("E-Mail-Adresse").input_value() == "ob@stadt-beispiel.de"
    assert page.get_by_label("Vorname").input_value() == "Jürgen"
    assert page.locator("#role").input_value() == "lord_mayor"
    # Nothing sticks out sideways on a phone.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], width

    # A forwarded link used with another address is refused, and says why.
    page.get_by_label("E-Mail-Adresse").fill("kollegin@stadt-beispiel.de")
    page.get_by_label("Ihre Motivation").fill("Wir bauen die Steuergruppe auf.")
    page.get_by_label(re.compile("Eine aktuelle Herausforderung")).fill("Koordination der Ämter.")
    page.get_by_label("Ich nehme verbindlich an allen Arbeitstreffen teil.").check()
    page.get_by_label(re.compile("Ich habe die Datenschutzhinweise gelesen")).check()
    page.get_by_role("button", name="Bewerbung absenden").click()
    assert "Diese Einladung gilt nur für die Adresse" in page.locator("main").inner_text()
    assert db.session.scalar(select(Application)) is None

    # With the invited address: registered at once, no confirmation mail in between.
    page.get_by_label("E-Mail-Adresse").fill("ob@stadt-beispiel.de")
    page.get_by_label("Ich nehme verbindlich an allen Arbeitstreffen teil.").check()
    page.get_by_label(re.compile("Ich habe die Datenschutzhinweise gelesen")).check()
    page.get_by_role("button", name="Bewerbung absenden").click()
    page.wait_for_url(re.compile(r"/status/"))
    assert "Ihre Anmeldung ist eingegangen" in page.locator("main").inner_text()
    context.close()

    db.session.commit()
    db.session.expire_all()
    application = db.session.scalar(select(Application))
    assert (application.email, application.status) == ("ob@stadt-beispiel.de", "submitted")
