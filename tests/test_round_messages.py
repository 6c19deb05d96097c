"""Messages to a round's participants (issue 8, part 3): ``flask round message`` and the
organizer page (preview, test to yourself, send), through the outbox to the real SMTP server;
each recipient once, in their language's frame, nobody outside the audience."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from forum.models import Forum, OutboxMessage
from registration import admission
from registration.models import Application, RoundMessage

BODY = (
    "Liebe Teilnehmer*innen,\n\nbitte bringen Sie **Ihre Fallbeispiele** mit.\n\n- Eins\n- Zwei\n"
)


@pytest.fixture
def cohort(make_round, make_application, write):
    """Seats for two: one accepted (German), one offered (English); one waitlisted, one
    submitted, one rejected, one withdrawn."""
    rnd = make_round(seats=2)
    people = {
        name: make_application(rnd, email=f"{name}@gemeinde.de", locale=locale)
        for name, locale in (
            ("accepted", "de"),
            ("offered", "en"),
            ("waitlisted", "de"),
            ("submitted", "de"),
            ("rejected", "de"),
            ("withdrawn", "de"),
        )
    }

    def get(name):
        return db.session.get(Application, people[name].id)

    write(admission.decide, get("accepted"), "admit")
    write(admission.accept_offer, get("accepted"))
    write(admission.decide, get("offered"), "admit")
    write(admission.decide, get("waitlisted"), "admit")
    write(admission.decide, get("rejected"), "reject")
    write(admission.withdraw, get("withdrawn"))
    assert {n: get(n).status for n in people} == {
        "accepted": "accepted",
        "offered": "offered",
        "waitlisted": "waitlisted",
        "submitted": "submitted",
        "rejected": "rejected",
        "withdrawn": "withdrawn",
    }
    return rnd, people


def message_mails(smtp, subject: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for m in smtp.messages:
        if subject in str(m["Subject"]):
            out.setdefault(str(m["To"]).split("@")[0], []).append(m)
    return out


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        ("accepted", {"accepted"}),
        ("seat_holders", {"accepted", "offered"}),
        ("waitlisted", {"waitlisted"}),
        ("live", {"accepted", "offered", "waitlisted", "submitted"}),
    ],
)
def test_command_sends_to_the_audience_once(
    runner, cohort, smtp, work, tmp_path, audience, expected
):
    rnd, _people = cohort
    work()
    smtp.sink.clear()
    body_file = tmp_path / "nachricht.md"
    body_file.write_text(BODY, encoding="utf-8")
    result = runner.invoke(
        args=[
            "round",
            "message",
            rnd.slug,
            "--audience",
            audience,
            "--subject",
            "Vorbereitung Treffen 1",
            "--body-file",
            str(body_file),
        ]
    )
    assert result.exit_code == 0, result.output
    assert f"queued {len(expected)} messages to {audience} of {rnd.slug}" in result.output
    work()
    mails = message_mails(smtp, "Vorbereitung Treffen 1")
    assert set(mails) == expected
    assert all(len(m) == 1 for m in mails.values())
    # Answers go to the forum's contact, as for every mail about a round.
    assert {m[0]["Reply-To"] for m in mails.values()} == {"team@forum.example.org"}
    for name, (mail,) in mails.items():
        text = mail.get_body(preferencelist=("plain",)).get_content()
        html = mail.get_body(preferencelist=("html",)).get_content()
        assert "bitte bringen Sie **Ihre Fallbeispiele** mit." in text
        assert "<strong>Ihre Fallbeispiele</strong>" in html and "<li>Eins</li>" in html
        assert "Teilnehmer*innen" in html  # the gender star is no emphasis
        assert "https://forum.example.org/status/" in text
        frame = "A message from the organizers" if name == "offered" else "Eine Nachricht des"
        assert frame in text
    (record,) = db.session.scalars(select(RoundMessage)).all()
    assert (record.audience, record.recipients, record.sender) == (
        audience,
        len(expected),
        "command line",
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--audience", "everyone"], "Invalid value for '--audience'"),
        (["--subject", "   "], "--subject: must not be empty"),
        (["--subject", "Zeile\nZwei"], "--subject: must be one line"),
        (["--subject", "x" * 201], "--subject: longer than 200 characters"),
        (["--body-file", "gibt-es-nicht.md"], "cannot read the file"),
        (["--body-file", "EMPTY"], "--body-file: must not be empty"),
        (["--body-file", "LATIN1"], "is not UTF-8 text"),
        (["SLUG", "gibt-es-nicht"], "no round with the slug 'gibt-es-nicht'"),
    ],
)
def test_command_bad_input_sends_nothing(runner, cohort, tmp_path, args, expected):
    rnd, _people = cohort
    (tmp_path / "ok.md").write_text(BODY, encoding="utf-8")
    (tmp_path / "empty.md").write_text("\n\n", encoding="utf-8")
    (tmp_path / "latin1.md").write_bytes("Grüße".encode("latin-1"))
    options = {
        "SLUG": rnd.slug,
        "--audience": "accepted",
        "--subject": "Betreff",
        "--body-file": str(tmp_path / "ok.md"),
    }
    options[args[0]] = {
        "EMPTY": str(tmp_path / "empty.md"),
        "LATIN1": str(tmp_path / "latin1.md"),
    }.get(args[1], args[1])
    before = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    argv = ["round", "message", options.pop("SLUG")]
    for key, value in options.items():
        argv += [key, value]
    result = runner.invoke(args=argv)
    assert result.exit_code != 0
    assert expected in result.output
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == before
    assert db.session.scalar(select(func.count()).select_from(RoundMessage)) == 0


def test_page_preview_test_and_send(client, login, cohort, smtp, work):
    rnd, people = cohort
    work()
    smtp.sink.clear()
    login(email="orga@forum.example.org", admin=False, forums=[rnd.forum])
    page = client.get(f"/admin/rounds/{rnd.slug}/messages")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-count="live">(4 ' in html and 'data-count="seat_holders">(2 ' in html
    assert f'href="/admin/rounds/{rnd.slug}/messages"' in client.get(
        f"/admin/rounds/{rnd.slug}"
    ).get_data(as_text=True)

    form = {"audience": "seat_holders", "subject": "Anreise", "body": BODY}
    before = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    preview = client.post(f"/admin/rounds/{rnd.slug}/messages", data={**form, "action": "preview"})
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert "<strong>Ihre Fallbeispiele</strong>" in text  # HTML preview
    assert "bitte bringen Sie **Ihre Fallbeispiele** mit." in text  # text preview
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == before

    test = client.post(f"/admin/rounds/{rnd.slug}/messages", data={**form, "action": "test"})
    assert test.status_code == 200
    assert "Testnachricht" in test.get_data(as_text=True)
    work()
    (mine,) = smtp.to("orga@forum.example.org")
    assert mine["Subject"] == "[Test] Anreise"
    assert all(smtp.to(a.email) == [] for a in people.values())

    sent = client.post(f"/admin/rounds/{rnd.slug}/messages", data={**form, "action": "send"})
    assert sent.status_code == 302
    work()
    mails = message_mails(smtp, "Anreise")
    assert set(mails) == {"accepted", "offered", "orga"}
    assert [len(v) for v in mails.values()] == [1, 1, 1]
    listing = client.get(f"/admin/rounds/{rnd.slug}/messages").get_data(as_text=True)
    assert "Anreise" in listing and "orga@forum.example.org" in listing
    assert '<td class="num">2</td>' in listing


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"audience": "alle"}, "Keine gültige Auswahl"),
        ({"subject": ""}, "Bitte füllen Sie dieses Feld aus."),
        ({"subject": "a\tb"}, "Bitte ohne Zeilenumbrüche und ohne Steuerzeichen."),
        ({"body": " "}, "Bitte füllen Sie dieses Feld aus."),
        ({"action": "delete"}, "Unbekannte Aktion"),
    ],
)
def test_page_bad_input_sends_nothing(client, login, cohort, data, expected):
    rnd, _people = cohort
    login()
    form = {"audience": "live", "subject": "Betreff", "body": BODY, "action": "send", **data}
    response = client.post(f"/admin/rounds/{rnd.slug}/messages", data=form)
    assert response.status_code == 400
    assert expected in response.get_data(as_text=True), response.get_data(as_text=True)[-3000:]
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(RoundMessage)) == 0


def test_page_of_another_forum_is_404(client, login, cohort):
    rnd, _people = cohort
    foreign = Forum(slug="anderes", title="Anderes Forum")
    db.session.add(foreign)
    db.session.commit()
    login(admin=False, forums=[foreign])
    assert client.get(f"/admin/rounds/{rnd.slug}/messages").status_code == 404
    response = client.post(
        f"/admin/rounds/{rnd.slug}/messages",
        data={"audience": "live", "subject": "x", "body": "y", "action": "send"},
    )
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(RoundMessage)) == 0


def test_message_to_one_group(runner, client, login, cohort, smtp, work, tmp_path):
    """A message can go to one group of the round (within the audience), from the command
    line and from the page; an unknown group is a clear error and sends nothing."""
    from registration.models import GroupMember, RoundGroup

    rnd, people = cohort
    group = RoundGroup(round_id=rnd.id, name="Gruppe Nord")
    db.session.add(group)
    db.session.flush()
    db.session.add(GroupMember(group_id=group.id, application_id=people["accepted"].id))
    db.session.add(RoundGroup(round_id=rnd.id, name="Gruppe Süd"))
    db.session.commit()
    work()
    smtp.sink.clear()
    body_file = tmp_path / "nachricht.md"
    body_file.write_text(BODY, encoding="utf-8")
    args = ["round", "message", rnd.slug, "--audience", "seat_holders", "--body-file"]
    result = runner.invoke(
        args=[*args, str(body_file), "--group", "Gruppe Nord", "--subject", "Nur Nord"]
    )
    assert result.exit_code == 0, result.output
    assert "queued 1 messages to seat_holders of group 'Gruppe Nord'" in result.output
    unknown = runner.invoke(
        args=[*args, str(body_file), "--group", "Gruppe West", "--subject", "Niemand"]
    )
    assert unknown.exit_code == 1
    assert "--group: no group 'Gruppe West'" in unknown.output
    work()
    assert set(message_mails(smtp, "Nur Nord")) == {"accepted"}
    assert message_mails(smtp, "Niemand") == {}

    login()
    page = client.get(f"/admin/rounds/{rnd.slug}/messages").get_data(as_text=True)
    assert "Gruppe Süd" in page and 'name="group"' in page
    sent = client.post(
        f"/admin/rounds/{rnd.slug}/messages",
        data={
            "action": "send",
            "audience": "accepted",
            "group": str(group.id),
            "subject": "Seite Nord",
            "body": BODY,
        },
    )
    assert sent.status_code == 302
    work()
    assert set(message_mails(smtp, "Seite Nord")) == {"accepted"}
    listed = client.get(f"/admin/rounds/{rnd.slug}/messages").get_data(as_text=True)
    assert "Gruppe Nord" in listed
    stored = db.session.scalars(select(RoundMessage.group_name)).all()
    assert sorted(stored) == ["Gruppe Nord", "Gruppe Nord"]
