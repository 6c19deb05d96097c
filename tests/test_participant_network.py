"""The participant network (issue 13): the optional ``share_contact`` consent on the form, the
list of consenting accepted participants on the status page, withdrawal at once."""

from __future__ import annotations

from sqlalchemy import select

from forum.extensions import db
from registration import admission
from registration.models import Application
from registration.network import SHARE_CONTACT_VERSION
from tests.helpers import application_data
from tests.helpers.mail import links
from tests.helpers.participants import accept, status_path


def test_consent_stored_with_version_from_the_form(client, make_round, smtp, work):
    rnd = make_round()
    html = client.get(f"/rounds/{rnd.slug}/apply").get_data(as_text=True)
    assert 'name="share_contact"' in html
    client.post(f"/rounds/{rnd.slug}/apply", data=application_data(share_contact="y"))
    client.post(
        f"/rounds/{rnd.slug}/apply",
        data=application_data(email="ohne@gemeinde.de"),
    )
    with_consent, without = db.session.scalars(select(Application).order_by(Application.id))
    assert with_consent.share_contact is True
    assert with_consent.share_contact_version == SHARE_CONTACT_VERSION
    assert with_consent.share_contact_at is not None
    assert (without.share_contact, without.share_contact_at) == (False, None)


def test_list_shows_only_consenting_accepted_participants_and_withdrawal_is_immediate(
    client, make_round, make_application, write
):
    rnd = make_round(seats=5)
    anna = make_application(rnd, first_name="Anna", last_name="Alt", organisation="Stadt A")
    bernd = make_application(rnd, first_name="Bernd", last_name="Berg", organisation="Kreis B")
    clara = make_application(rnd, first_name="Clara", last_name="Cramer", organisation="Gem C")
    dora = make_application(rnd, first_name="Dora", last_name="Dach", organisation="Gem D")
    for person in (anna, bernd, clara):
        accept(write, person)
    write(admission.decide, db.session.get(Application, dora.id), "admit")  # only offered
    for person in (anna, bernd, dora):
        db.session.get(Application, person.id).share_contact = True
    db.session.commit()

    page = client.get(status_path(anna)).get_data(as_text=True)
    assert "Teilnehmende dieser Runde" in page
    assert "Bernd Berg" in page and "Kreis B" in page and "Bürgermeister*in" in page
    assert "Clara Cramer" not in page  # no consent
    assert "Dora Dach" not in page  # consented, but not an accepted participant
    assert "Anna Alt</strong>" not in page  # not herself in the list

    clara_page = client.get(status_path(clara)).get_data(as_text=True)
    assert "Anna Alt" in clara_page and "Bernd Berg" in clara_page
    dora_page = client.get(status_path(dora)).get_data(as_text=True)
    assert "Teilnehmende dieser Runde" not in dora_page and "Anna Alt" not in dora_page

    # Bernd withdraws his consent on his status page: gone from Anna's list at once.
    response = client.post(status_path(bernd) + "/share-contact", data={})
    assert response.status_code == 302
    bernd_now = db.session.get(Application, bernd.id)
    assert bernd_now.share_contact is False
    assert bernd_now.events[-1].reason == "Einwilligung in die Teilnehmendenliste widerrufen"
    assert "Bernd Berg" not in client.get(status_path(anna)).get_data(as_text=True)

    # Clara gives hers later: Anna sees her.
    client.post(status_path(clara) + "/share-contact", data={"share_contact": "y"})
    assert db.session.get(Application, clara.id).share_contact_version == SHARE_CONTACT_VERSION
    assert "Clara Cramer" in client.get(status_path(anna)).get_data(as_text=True)


def test_bad_status_link_for_consent_is_404(client):
    assert client.post("/status/falsch/share-contact", data={}).status_code == 404


def test_privacy_export_carries_the_consent(runner, make_round, client, smtp, work):
    rnd = make_round()
    client.post(f"/rounds/{rnd.slug}/apply", data=application_data(share_contact="y"))
    result = runner.invoke(args=["privacy", "export", "anna.mueller@gemeinde-beispiel.de"])
    assert '"share_contact": true' in result.output
    assert SHARE_CONTACT_VERSION in result.output
    work()
    assert links(smtp.messages[0])
