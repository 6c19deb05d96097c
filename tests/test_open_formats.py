"""Open formats (issue 13): organisation types and roles beyond municipal administrations.

An open seminar round accepts associations, business, citizens …; a municipal round keeps its
form exactly as before. Through HTTP, the worker and the real SMTP server."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import select

from forum.codes import BODY_TYPES, MUNICIPAL_BODY_TYPES, MUNICIPAL_ROLES, ROLES
from forum.extensions import db
from forum.models import Round
from registration.models import Application
from tests.helpers import ROOT, application_data
from tests.helpers.mail import links

OPEN_BODY_TYPES = ["association", "business", "science", "public_agency", "private"]
OPEN_ROLES = ["executive", "employee", "volunteer", "citizen"]


def _options(html: str, name: str) -> list[str]:
    start = html.index(f'name="{name}"')
    block = html[start : html.index("</select>", start)]
    return [v for v in block.split('value="')[1:] for v in [v.split('"', 1)[0]] if v]


def open_round(make_round, **overrides) -> Round:
    values = dict(
        admission="first_come",
        states=["DE-TH", "DE-SN", "DE-ST"],
        roles=list(MUNICIPAL_ROLES) + OPEN_ROLES,
        body_types=list(MUNICIPAL_BODY_TYPES) + OPEN_BODY_TYPES,
    )
    values.update(overrides)
    return make_round(**values)


def test_codes_have_german_and_english_labels(app):
    from flask_babel import force_locale

    for code in OPEN_BODY_TYPES:
        assert code in BODY_TYPES
    for code in OPEN_ROLES:
        assert code in ROLES
    with app.test_request_context():
        with force_locale("en"):
            assert str(BODY_TYPES["association"]) == "Association/federation"
            assert str(ROLES["volunteer"]) == "Volunteer"
        with force_locale("de"):
            assert str(BODY_TYPES["association"]) == "Verein/Verband"
            assert str(ROLES["volunteer"]) == "Ehrenamtliche*r"


def test_municipal_round_form_is_unchanged(client, make_round):
    rnd = make_round()  # city, municipality, district; four municipal roles
    html = client.get(f"/rounds/{rnd.slug}/apply").get_data(as_text=True)
    # Only what the round accepts, in the order of the codes (the form says who may apply).
    assert _options(html, "body_type") == ["city", "municipality", "district"]
    assert _options(html, "role") == ["lord_mayor", "mayor", "deputy", "head_of_office"]
    assert "Art der Kommune" in html
    assert "Art der Organisation" not in html


def test_open_round_offers_only_the_codes_it_accepts(client, make_round):
    rnd = open_round(make_round, body_types=["municipality", "association"], roles=["citizen"])
    html = client.get(f"/rounds/{rnd.slug}/apply").get_data(as_text=True)
    assert _options(html, "body_type") == ["municipality", "association"]
    assert _options(html, "role") == ["citizen"]
    assert "Art der Organisation" in html
    assert "Verein/Verband" in html and "Unternehmen" not in html


def test_association_volunteer_applies_to_open_seminar(client, make_round, smtp, work, login):
    rnd = open_round(make_round, seats=3)
    response = client.post(
        f"/rounds/{rnd.slug}/apply",
        data=application_data(
            email="ehrenamt@buergerverein-erfurt.de",
            organisation="Bürgerverein Erfurt-Nord e. V.",
            body_type="association",
            role="volunteer",
            state="DE-TH",
        ),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    work()
    mail = smtp.to("ehrenamt@buergerverein-erfurt.de")[0]
    confirm = next(p for p in links(mail) if p.startswith("/applications/confirm/"))
    assert client.post(confirm).status_code == 200
    application = db.session.scalar(select(Application))
    assert (application.body_type, application.role) == ("association", "volunteer")
    assert application.status == "offered"  # first come: a free seat at once

    organizer = login()
    dashboard = organizer.get(f"/admin/rounds/{rnd.slug}").get_data(as_text=True)
    assert "Belegte Plätze nach Art der Organisation" in dashboard
    assert "Verein/Verband" in dashboard and "Ehrenamtliche*r" in dashboard
    filtered = organizer.get(f"/admin/rounds/{rnd.slug}?body_type=association")
    assert "Bürgerverein Erfurt-Nord" in filtered.get_data(as_text=True)

    export = organizer.get(f"/admin/rounds/{rnd.slug}/applications.csv")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert (rows[0]["body_type"], rows[0]["role"]) == ("association", "volunteer")


def test_open_codes_refused_where_the_round_does_not_accept_them(client, make_round):
    rnd = make_round()  # municipal
    response = client.post(
        f"/rounds/{rnd.slug}/apply",
        data=application_data(body_type="association", role="volunteer"),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'data-rule="body_type"' in html and 'data-rule="role"' in html
    assert db.session.scalar(select(Application)) is None


def test_private_persons_do_not_count_against_the_organisation_limit(
    client, make_round, make_application, write
):
    from registration import admission

    rnd = open_round(make_round, seats=5, max_per_organisation=1, admission="review")
    first = make_application(rnd, body_type="private", role="citizen", organisation="Erfurt")
    second = make_application(rnd, body_type="private", role="citizen", organisation="Erfurt")
    third = make_application(rnd, body_type="association", role="volunteer", organisation="Erfurt")
    fourth = make_application(rnd, body_type="association", role="executive", organisation="erfurt")
    for application in (first, second, third, fourth):
        write(admission.decide, db.session.get(Application, application.id), "admit")
    statuses = [db.session.get(Application, a.id).status for a in (first, second, third, fourth)]
    # Two private persons from the same town both get a seat; the association's limit holds.
    assert statuses == ["offered", "offered", "offered", "waitlisted"]


def test_demo_file_of_the_open_seminar_loads(runner):
    path = Path(ROOT) / "demo" / "kommune-gemeinsam-gestalten.toml"
    result = runner.invoke(args=["forum", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert "created: round kgg-erfurt-2027" in result.output
    rnd = db.session.scalar(select(Round).where(Round.slug == "kgg-erfurt-2027"))
    assert "association" in rnd.body_types and "citizen" in rnd.roles
    again = runner.invoke(args=["forum", "load", str(path)])
    assert "unchanged: round kgg-erfurt-2027" in again.output


def test_demo_file_of_the_steering_group_loads(runner):
    path = Path(ROOT) / "demo" / "netzwerkarbeit.toml"
    result = runner.invoke(args=["forum", "load", str(path)])
    assert result.exit_code == 0, result.output
    rnd = db.session.scalar(select(Round).where(Round.slug == "steuergruppe-2027"))
    assert rnd.invitation_only is True and rnd.invitation_reminder_days == 7
    assert "public_agency" in rnd.body_types
