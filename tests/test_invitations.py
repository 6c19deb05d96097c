"""Invitations (issue 13): ``flask round invite``, the organizer page's upload, the personal
link ``/invitations/<token>``, invitation-only rounds, one reminder to non-responders. Through
the CLI runner, HTTP, the worker, ``flask maintenance run`` processes and the real SMTP
server."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import func, select, update

from forum.db import utcnow
from forum.extensions import db
from registration.models import Application, Invitation
from tests.helpers import ROOT, application_data

LINK = re.compile(r"https://forum\.example\.org(/\S+)")

CSV = (
    "email,first_name,last_name,organisation,state,role,body_type\n"
    "ob@stadt-beispiel.de,Olga,Brandt,Stadt Beispiel,DE-BY,lord_mayor,city\n"
    "kaemmerei@stadt-beispiel.de,Karl,Kunz,Stadt Beispiel,DE-BY,head_of_office,city\n"
    "kein-at-zeichen,Nina,Nix,,,,\n"
    "landrat@kreis.de,Lena,Roth,Landkreis X,DE-BW,pope,district\n"
    "integration@kreis.de,Ida,Ibe,Landkreis X,DE-BW,,\n"
)


def write_csv(tmp_path, text=CSV, name="einladungen.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def link(mail, prefix="/invitations/") -> str:
    body = mail.get_body(preferencelist=("plain",)).get_content()
    return next(p for p in LINK.findall(body) if p.startswith(prefix))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_round_invite_command_invites_once_and_reports_bad_rows(
    runner, make_round, smtp, work, tmp_path
):
    rnd = make_round(invitation_only=True)
    path = write_csv(tmp_path)
    result = runner.invoke(args=["round", "invite", rnd.slug, str(path)])
    assert result.exit_code == 1, result.output
    assert "invited: 3" in result.output
    assert f"{path}:4: ungültige E-Mail-Adresse 'kein-at-zeichen'" in result.output
    assert f"{path}:5: role: unbekannter Code 'pope'" in result.output
    assert count(Invitation) == 3
    work()
    assert len(smtp.messages) == 3
    mail = smtp.to("ob@stadt-beispiel.de")[0]
    assert mail["Subject"] == f"Persönliche Einladung: {rnd.title}"
    assert mail["Reply-To"] == "team@forum.example.org"
    assert link(mail).startswith("/invitations/")
    assert "bitte leiten Sie den Link nicht weiter" in mail.get_body(("plain",)).get_content()

    again = runner.invoke(args=["round", "invite", rnd.slug, str(path)])
    assert "invited: 0" in again.output and "invited before: 3" in again.output
    work()
    assert len(smtp.messages) == 3  # nobody twice
    assert count(Invitation) == 3


def test_round_invite_command_clear_errors(runner, make_round, tmp_path):
    rnd = make_round()
    bad_header = write_csv(tmp_path, "mail,name\nx@y.de,X\n")
    result = runner.invoke(args=["round", "invite", rnd.slug, str(bad_header)])
    assert result.exit_code == 1
    # The reasons are German source strings: the command line shows the default language.
    assert "der Kopfzeile fehlen die Spalten email, first_name, last_name" in result.output
    missing = runner.invoke(args=["round", "invite", "gibt-es-nicht", str(bad_header)])
    assert missing.exit_code == 1 and "no round with the slug" in missing.output
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("email,first_name,last_name\nä@x.de,Jörg,Ä\n".encode("latin-1"))
    result = runner.invoke(args=["round", "invite", rnd.slug, str(latin1)])
    assert result.exit_code == 1 and "die Datei ist kein UTF-8-Text (Byte 27)" in result.output
    outside = write_csv(tmp_path, "email,first_name,last_name,state\na@b.de,A,B,DE-HH\n", "o.csv")
    result = runner.invoke(args=["round", "invite", rnd.slug, str(outside)])
    assert "state 'DE-HH' ist in dieser Runde nicht zugelassen" in result.output
    assert count(Invitation) == 0


def _invite(runner, rnd, tmp_path, work, smtp, email="ob@stadt-beispiel.de") -> str:
    path = write_csv(
        tmp_path,
        "email;first_name;last_name;organisation;state;role;body_type\n"
        f"{email};Olga;Brandt;Stadt Beispiel;DE-BY;lord_mayor;city\n",
    )
    result = runner.invoke(args=["round", "invite", rnd.slug, str(path)])
    assert result.exit_code == 0, result.output
    work()
    return link(smtp.to(email)[-1])


def test_invited_address_is_submitted_without_confirmation(
    client, runner, make_round, smtp, work, tmp_path
):
    rnd = make_round(invitation_only=True, roles=["lord_mayor", "mayor"])
    path = _invite(runner, rnd, tmp_path, work, smtp)
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="ob@stadt-beispiel.de"' in html and 'value="Olga"' in html
    assert '<option selected value="lord_mayor">' in html
    assert "Persönliche Einladung für Olga Brandt" in html

    data = application_data(
        email="ob@stadt-beispiel.de",
        first_name="Olga",
        last_name="Brandt",
        organisation="Stadt Beispiel",
        body_type="city",
        role="lord_mayor",
    )
    response = client.post(path, data=data)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/status/")
    application = db.session.scalar(select(Application))
    assert application.status == "submitted"
    assert application.confirmed_at is not None
    assert application.events[-1].reason.startswith("Über die persönliche Einladung")
    invitation = db.session.scalar(select(Invitation))
    assert invitation.application_id == application.id

    smtp.sink.clear()
    work()
    subjects = [m["Subject"] for m in smtp.to("ob@stadt-beispiel.de")]
    assert len(subjects) == 1 and "Bitte bestätigen" not in subjects[0]
    assert "application_confirm" not in str(db.session.scalars(select(Application.status)).all())

    # The link now says that the invitation was answered; a second submit stores nothing.
    assert "bereits eine Anmeldung" in client.get(path).get_data(as_text=True)
    client.post(path, data=data)
    assert count(Application) == 1


def test_forwarded_invitation_refused_in_invitation_only_round(
    client, runner, make_round, smtp, work, tmp_path
):
    rnd = make_round(invitation_only=True)
    path = _invite(runner, rnd, tmp_path, work, smtp)
    smtp.sink.clear()
    response = client.post(path, data=application_data(email="kollegin@stadt-beispiel.de"))
    assert response.status_code == 403
    assert "Diese Einladung gilt nur für die Adresse" in response.get_data(as_text=True)
    assert count(Application) == 0
    work()
    assert smtp.messages == []


def test_invitation_only_public_form_stores_nothing_without_invitation(
    client, runner, make_round, smtp, work, tmp_path
):
    rnd = make_round(invitation_only=True)
    page = client.get(f"/rounds/{rnd.slug}/apply").get_data(as_text=True)
    assert "nur auf Einladung möglich" in page
    assert "Teilnahme nur auf Einladung." in client.get("/forums/test-forum").get_data(as_text=True)
    response = client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
    assert response.status_code == 403
    assert "keine Einladung" in response.get_data(as_text=True)
    assert count(Application) == 0
    work()
    assert smtp.messages == []

    # An invited address may use the public form too: the usual confirmation, then answered.
    _invite(runner, rnd, tmp_path, work, smtp, email="anna.mueller@gemeinde-beispiel.de")
    response = client.post(f"/rounds/{rnd.slug}/apply", data=application_data())
    assert response.status_code == 302
    application = db.session.scalar(select(Application))
    assert application.status == "pending_email"
    work()  # the flush job answers the invitation with the confirmation mail
    assert db.session.scalar(select(Invitation.application_id)) == application.id


def test_forwarded_invitation_in_open_round_is_an_ordinary_application(
    client, runner, make_round, smtp, work, tmp_path
):
    rnd = make_round(invitation_only=False)
    path = _invite(runner, rnd, tmp_path, work, smtp)
    smtp.sink.clear()
    response = client.post(path, data=application_data(email="kollegin@stadt-beispiel.de"))
    assert response.status_code == 302
    assert "check-inbox" in response.headers["Location"]
    application = db.session.scalar(select(Application))
    assert (application.email, application.status) == (
        "kollegin@stadt-beispiel.de",
        "pending_email",
    )
    assert db.session.scalar(select(Invitation.application_id)) is None
    work()
    assert "Bitte bestätigen" in smtp.to("kollegin@stadt-beispiel.de")[0]["Subject"]


def test_bad_invitation_link_is_a_clear_404(client):
    response = client.get("/invitations/nicht-echt")
    assert response.status_code == 404
    assert client.post("/invitations/nicht-echt/decline").status_code == 404


def _age_invitations(days: int) -> None:
    db.session.execute(update(Invitation).values(created_at=utcnow() - timedelta(days=days)))
    db.session.commit()


def _maintenance_process(app, database_url, redis_url, smtp):
    env = {
        **os.environ,
        "FORUM_SQLALCHEMY_DATABASE_URI": database_url,
        "FORUM_RQ_CONNECTION": redis_url,
        "FORUM_SECRET_KEY": "test-secret",
        "FORUM_MAIL_PORT": str(smtp.port),
        "FORUM_PUBLIC_BASE_URL": "https://forum.example.org",
        "FORUM_INSTANCE_PATH": app.instance_path,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "maintenance", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_one_reminder_to_non_responders_also_with_parallel_maintenance_runs(
    app, client, runner, make_round, smtp, work, tmp_path, database_url, redis_url
):
    rnd = make_round(invitation_only=True, invitation_reminder_days=7)
    csv_text = "email,first_name,last_name\n" + "".join(
        f"person{n}@gemeinde-{n}.de,Vor{n},Nach{n}\n" for n in range(6)
    )
    runner.invoke(args=["round", "invite", rnd.slug, str(write_csv(tmp_path, csv_text))])
    work()
    links = {
        f"person{n}@gemeinde-{n}.de": link(smtp.to(f"person{n}@gemeinde-{n}.de")[0])
        for n in range(6)
    }
    # person0 applies, person1 declines: neither is reminded.
    client.post(
        links["person0@gemeinde-0.de"], data=application_data(email="person0@gemeinde-0.de")
    )
    assert client.post(links["person1@gemeinde-1.de"] + "/decline").status_code == 200
    work()
    smtp.sink.clear()

    # Six days: too early.
    _age_invitations(6)
    assert "invitation_reminders: 0" in runner.invoke(args=["maintenance", "run"]).output

    _age_invitations(8)
    procs = [_maintenance_process(app, database_url, redis_url, smtp) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    sent = sorted(int(re.search(r"invitation_reminders: (\d+)", o)[1]) for o in outputs)
    assert sum(sent) == 4, outputs
    work()
    reminded = sorted(str(m["To"]) for m in smtp.messages)
    assert reminded == [f"person{n}@gemeinde-{n}.de" for n in range(2, 6)]
    assert all(m["Subject"].startswith("Erinnerung an Ihre Einladung") for m in smtp.messages)

    assert "invitation_reminders: 0" in runner.invoke(args=["maintenance", "run"]).output
    work()
    assert len(smtp.messages) == 4  # once


def test_organizer_page_uploads_and_shows_answers(client, login, make_round, smtp, work):
    rnd = make_round(invitation_only=True)
    organizer = login()
    page = organizer.get(f"/admin/rounds/{rnd.slug}/invitations")
    assert page.status_code == 200
    response = organizer.post(
        f"/admin/rounds/{rnd.slug}/invitations",
        data={"file": (io.BytesIO(CSV.encode()), "liste.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422  # two rows failed: shown with their lines
    html = response.get_data(as_text=True)
    assert "3 Personen eingeladen, 0 waren schon eingeladen." in html
    assert "Zeile 4" in html and "Zeile 5" in html
    work()
    assert len(smtp.messages) == 3
    first = link(smtp.to("ob@stadt-beispiel.de")[0])
    second = link(smtp.to("kaemmerei@stadt-beispiel.de")[0])
    client.post(
        first,
        data=application_data(email="ob@stadt-beispiel.de", role="lord_mayor", body_type="city"),
    )
    client.post(second + "/decline")

    def upload(content: bytes, query: str = ""):
        return organizer.post(
            f"/admin/rounds/{rnd.slug}/invitations{query}",
            data={"file": (io.BytesIO(content), "liste.csv")},
            content_type="multipart/form-data",
        )

    again = upload(CSV.encode())
    assert "0 Personen eingeladen, 3 waren schon eingeladen." in again.get_data(as_text=True)
    dashboard = organizer.get(f"/admin/rounds/{rnd.slug}").get_data(as_text=True)
    assert 'data-invited="3" data-answered="1" data-declined="1"' in dashboard
    listing = organizer.get(f"/admin/rounds/{rnd.slug}/invitations").get_data(as_text=True)
    assert listing.count('data-answer="applied"') == 1
    assert listing.count('data-answer="declined"') == 1
    assert listing.count('data-answer="open"') == 1

    empty = organizer.post(f"/admin/rounds/{rnd.slug}/invitations", data={})
    assert empty.status_code == 422
    assert "Bitte wählen Sie eine Datei aus." in empty.get_data(as_text=True)
    broken = upload(b"\xff\xfe\x00")
    assert broken.status_code == 422
    # The reason in the page's language: German, and English after switching.
    page = broken.get_data(as_text=True)
    assert "Die Datei lässt sich nicht lesen: die Datei ist kein UTF-8-Text (Byte 0)" in page
    assert "not UTF-8" not in page
    english = upload(b"email;first_name\n", "?lang=en")
    assert english.status_code == 422
    page = english.get_data(as_text=True)
    assert "the header row lacks the column(s) last_name (expected email, first_name" in page
    assert "Kopfzeile" not in page
    assert count(Invitation) == 3


FORUM_FILE = """
[forum]
slug = "steuergruppe"
title = "Netzwerk Integration"

[[rounds]]
slug = "steuergruppe-2027"
title = "Steuergruppe 2027"
seats = 12
opens = 2026-01-01T00:00:00+01:00
closes = 2030-01-01T00:00:00+01:00
states = ["DE-NI"]
roles = ["lord_mayor", "head_of_office", "executive"]
body_types = ["city", "association"]
invitation_only = {only}
invitation_reminder_days = {days}
"""


def test_forum_file_keys_for_invitations(runner, tmp_path):
    from forum.models import Round

    path = tmp_path / "f.toml"
    path.write_text(FORUM_FILE.format(only="true", days=3), encoding="utf-8")
    result = runner.invoke(args=["forum", "load", str(path)])
    assert result.exit_code == 0, result.output
    rnd = db.session.scalar(select(Round))
    assert (rnd.invitation_only, rnd.invitation_reminder_days) == (True, 3)
    path.write_text(FORUM_FILE.format(only='"yes"', days=3), encoding="utf-8")
    bad = runner.invoke(args=["forum", "load", str(path)])
    assert bad.exit_code == 1 and "invitation_only: expected true or false" in bad.output
    path.write_text(FORUM_FILE.format(only="false", days=0), encoding="utf-8")
    bad = runner.invoke(args=["forum", "load", str(path)])
    assert "invitation_reminder_days: must be at least 1" in bad.output
    db.session.expire_all()
    assert db.session.scalar(select(Round.invitation_only)) is True  # nothing changed


def test_invitations_in_privacy_export_erasure_and_retention(
    runner, make_round, smtp, work, tmp_path
):
    from forum.models import Meeting, Round

    rnd = make_round(invitation_only=True)
    old = make_round()
    path = write_csv(tmp_path, "email,first_name,last_name\nOB@Stadt-Beispiel.de,Olga,Brandt\n")
    assert runner.invoke(args=["round", "invite", rnd.slug, str(path)]).exit_code == 0
    assert runner.invoke(args=["round", "invite", old.slug, str(path)]).exit_code == 0
    exported = runner.invoke(args=["privacy", "export", "ob@stadt-beispiel.de"]).output
    assert '"invitations"' in exported and rnd.slug in exported and '"answer": "open"' in exported

    # Retention: the old round finished two years ago; its invitations go, the others stay.
    two_years = utcnow() - timedelta(days=730)
    db.session.execute(
        update(Round)
        .where(Round.id == old.id)
        .values(opens=two_years - timedelta(days=30), closes=two_years)
    )
    db.session.execute(
        update(Meeting)
        .where(Meeting.round_id == old.id)
        .values(starts=two_years, ends=two_years + timedelta(hours=5))
    )
    db.session.commit()
    result = runner.invoke(args=["maintenance", "run"])
    assert "retention_invitations: 1" in result.output, result.output
    assert db.session.scalar(select(Invitation.round_id)) == rnd.id

    erased = runner.invoke(
        args=["privacy", "erase", "ob@stadt-beispiel.de", "--reason", "Anfrage per E-Mail"]
    )
    assert "invitations: 1" in erased.output, erased.output
    assert count(Invitation) == 0
