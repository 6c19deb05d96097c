"""Running a round (issue 8, part 1): meetings keep their identity across loads (key, calendar
UID), seat holders hear of moved and cancelled meetings with a calendar update, seats can be
raised (the waitlist moves up at once) but not lowered below those held, ``forum export``
round-trips, and the public ``meetings.ics``. Through the CLI, HTTP and the worker with the
real SMTP server."""

from __future__ import annotations

import re

import pytest
from icalendar import Calendar
from sqlalchemy import delete, func, select

from forum.extensions import db
from forum.models import Forum, Meeting, OutboxMessage, Round
from registration.models import Application
from tests.helpers.forum_files import MEETINGS_FILE, load


def the_round() -> Round:
    return db.session.scalar(select(Round).where(Round.slug == "mkw-2027"))


def outbox_count() -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def events(message) -> list:
    """The VEVENTs of the mail's .ics attachment, and the calendar's METHOD."""
    (part,) = [p for p in message.iter_attachments() if p.get_filename().endswith(".ics")]
    cal = Calendar.from_ical(part.get_content())
    return str(cal["METHOD"]), [c for c in cal.walk("VEVENT")]


def test_keys_default_by_position_and_uids_stay(runner, tmp_path):
    assert load(runner, tmp_path, MEETINGS_FILE).exit_code == 0
    meetings = sorted(the_round().meetings, key=lambda m: m.position)
    assert [m.key for m in meetings] == ["m1", "m2"]
    uids = {m.key: m.uid for m in meetings}
    ids = {m.key: m.id for m in meetings}

    # A new title and a later start for m1: the same row, the same UID, a higher SEQUENCE.
    moved = MEETINGS_FILE.replace('title = "1. Arbeitstreffen"', 'title = "Auftakt"').replace(
        "starts = 2027-03-10T10:00:00+01:00", "starts = 2027-03-10T13:00:00+01:00"
    )
    result = load(runner, tmp_path, moved)
    assert "updated: round mkw-2027" in result.output, result.output
    after = {m.key: m for m in the_round().meetings}
    assert {k: m.uid for k, m in after.items()} == uids
    assert {k: m.id for k, m in after.items()} == ids
    assert after["m1"].title == "Auftakt" and after["m1"].sequence == 1
    assert after["m2"].sequence == 0


def test_explicit_keys_survive_reordering(runner, tmp_path):
    keyed = MEETINGS_FILE.replace(
        'title = "1. Arbeitstreffen"', 'key = "auftakt"\ntitle = "1. Arbeitstreffen"'
    ).replace('title = "2. Arbeitstreffen"', 'key = "zweites"\ntitle = "2. Arbeitstreffen"')
    assert load(runner, tmp_path, keyed).exit_code == 0
    uids = {m.key: m.uid for m in the_round().meetings}
    assert set(uids) == {"auftakt", "zweites"}
    # The same meetings listed the other way round: nothing changes.
    head, first, second = re.split(r"\n(?=\[\[rounds\.meetings\]\])", keyed)
    swapped = "\n".join([head, second, first])
    result = load(runner, tmp_path, swapped)
    assert result.exit_code == 0, result.output
    assert {m.key: m.uid for m in the_round().meetings} == uids
    assert all(m.sequence == 0 for m in the_round().meetings)

    duplicate = keyed.replace('key = "zweites"', 'key = "auftakt"')
    result = load(runner, tmp_path, duplicate)
    assert result.exit_code == 1
    assert "meetings[2].key: used by another meeting of this round" in result.output


def test_moved_and_cancelled_meetings_reach_seat_holders(
    runner, tmp_path, holders, client, smtp, work
):
    work()
    smtp.sink.clear()
    public = Calendar.from_ical(client.get("/rounds/mkw-2027/meetings.ics").data)
    uid = {str(e["SUMMARY"]): str(e["UID"]) for e in public.walk("VEVENT")}
    before = outbox_count()

    changed = MEETINGS_FILE.replace('venue = "Nürnberg"', 'venue = "Fürth"').replace(
        "ends = 2027-03-11T16:00:00+01:00", "ends = 2027-03-11T17:30:00+01:00"
    )
    changed = changed.replace('venue = "Ulm"', 'venue = "Ulm"\ncancelled = true')
    result = load(runner, tmp_path, changed)
    assert result.exit_code == 0, result.output
    assert "4 mails about meetings" in result.output  # 2 seat holders x 2 meetings
    assert outbox_count() == before + 4
    work()

    for who in ("accepted", "offered"):
        mails = smtp.to(holders[who].email)
        assert len(mails) == 2, [m["Subject"] for m in mails]
        by_subject = {m["Subject"].split(":")[0]: m for m in mails}
        changed_mail = by_subject["Geändert" if who == "accepted" else "Changed"]
        assert changed_mail["Reply-To"] == "team@forum.example.org"
        text = changed_mail.get_body(preferencelist=("plain",)).get_content()
        assert "Nürnberg" in text and "Fürth" in text  # old and new
        # in the reader's language: German 24-hour times, English 12-hour ones
        old_end, new_end = ("16:00", "17:30") if who == "accepted" else ("4:00", "5:30")
        assert old_end in text and new_end in text, text
        assert (who == "accepted") == ("16:00" in text), text
        method, (event,) = events(changed_mail)
        assert method == "PUBLISH"
        assert str(event["UID"]) == uid["Staffel 2027: 1. Arbeitstreffen"]
        assert int(event["SEQUENCE"]) == 1
        assert "Fürth" in str(event["LOCATION"])

        cancel_mail = by_subject["Abgesagt" if who == "accepted" else "Cancelled"]
        method, (event,) = events(cancel_mail)
        assert method == "CANCEL"
        assert str(event["STATUS"]) == "CANCELLED"
        assert str(event["UID"]) == uid["Staffel 2027: 2. Arbeitstreffen"]
        assert int(event["SEQUENCE"]) == 1
    for who in ("waitlisted", "sub"):
        assert smtp.to(holders[who].email) == []

    # The public calendar says the same; the status page marks the cancelled meeting.
    public = Calendar.from_ical(client.get("/rounds/mkw-2027/meetings.ics").data)
    status = {str(e["UID"]): (str(e["STATUS"]), int(e["SEQUENCE"])) for e in public.walk("VEVENT")}
    assert status[uid["Staffel 2027: 2. Arbeitstreffen"]] == ("CANCELLED", 1)
    assert status[uid["Staffel 2027: 1. Arbeitstreffen"]] == ("CONFIRMED", 1)

    # Loading the same file again sends nothing.
    again = load(runner, tmp_path, changed)
    assert "unchanged: round mkw-2027" in again.output, again.output
    assert outbox_count() == before + 4


def test_unchanged_file_sends_nothing(runner, tmp_path, holders):
    before = outbox_count()
    result = load(runner, tmp_path, MEETINGS_FILE)
    assert result.exit_code == 0
    assert "unchanged: round mkw-2027" in result.output
    assert outbox_count() == before


def test_dropped_meeting_is_cancelled_once_seats_are_held(runner, tmp_path, holders, smtp, work):
    work()
    smtp.sink.clear()
    without_second = MEETINGS_FILE.split('[[rounds.meetings]]\ntitle = "2.')[0]
    result = load(runner, tmp_path, without_second)
    assert result.exit_code == 0, result.output
    meetings = {m.key: m for m in the_round().meetings}
    assert set(meetings) == {"m1", "m2"}  # kept, not deleted
    assert meetings["m2"].cancelled and not meetings["m1"].cancelled
    work()
    subjects = [m["Subject"] for m in smtp.to(holders["accepted"].email)]
    assert subjects == ["Abgesagt: 2. Arbeitstreffen (Staffel 2027)"]
    # The export lists it as cancelled, so that a round trip keeps it.
    exported = runner.invoke(args=["forum", "export", "mkw"]).output
    assert "cancelled = true" in exported


def test_dropped_meeting_is_deleted_while_nobody_holds_a_seat(runner, tmp_path):
    assert load(runner, tmp_path, MEETINGS_FILE).exit_code == 0
    without_second = MEETINGS_FILE.split('[[rounds.meetings]]\ntitle = "2.')[0]
    assert load(runner, tmp_path, without_second).exit_code == 0
    assert [m.key for m in the_round().meetings] == ["m1"]
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == 1
    assert outbox_count() == 0


def test_more_seats_go_to_the_waitlist_at_once(runner, tmp_path, holders, smtp, work):
    work()
    smtp.sink.clear()
    result = load(runner, tmp_path, MEETINGS_FILE.replace("seats = 2", "seats = 3"))
    assert result.exit_code == 0, result.output
    assert "1 seats offered to the waitlist" in result.output
    promoted = db.session.get(Application, holders["waitlisted"].id)
    assert promoted.status == "offered"
    assert promoted.events[-1].reason == "Von der Warteliste nachgerückt"
    work()
    (mail,) = smtp.to(promoted.email)
    assert mail["Subject"].startswith("Ihr Platz in „Staffel 2027“")


def test_fewer_seats_than_held_are_refused(runner, tmp_path, holders):
    before = outbox_count()
    result = load(runner, tmp_path, MEETINGS_FILE.replace("seats = 2", "seats = 1"))
    assert result.exit_code == 1
    assert "(mkw-2027).seats: 2 seats are held" in result.output
    assert "nothing was changed" in result.output
    assert the_round().seats == 2
    assert outbox_count() == before

    # The same for the limits: two seats are held by DE-BY.
    limited = MEETINGS_FILE.replace("seats = 2", "seats = 2\nmax_per_state = 1")
    result = load(runner, tmp_path, limited)
    assert result.exit_code == 1
    assert "(mkw-2027).max_per_state: one state already holds 2 seats" in result.output
    assert the_round().max_per_state is None
    result = load(
        runner, tmp_path, MEETINGS_FILE.replace("seats = 2", "seats = 2\nmax_per_organisation=1")
    )
    assert result.exit_code == 0  # each organisation holds one seat


def test_refusal_in_a_later_round_changes_nothing_before_it(runner, tmp_path, holders):
    head, round_2027 = MEETINGS_FILE.split("[[rounds]]")
    round_2026 = round_2027.replace('slug = "mkw-2027"', 'slug = "mkw-2026"')
    bad = (
        head.replace('title = "Meine Kommune weiterdenken"', 'title = "Neuer Titel"')
        + "[[rounds]]"
        + round_2026
        + "\n[[rounds]]"
        + round_2027.replace("seats = 2", "seats = 1")
    )
    result = load(runner, tmp_path, bad)
    assert result.exit_code == 1, result.output
    assert "(mkw-2027).seats" in result.output
    assert db.session.scalars(select(Round.slug)).all() == ["mkw-2027"]
    assert db.session.scalar(select(Forum.title)) == "Meine Kommune weiterdenken"


@pytest.mark.parametrize("source", ["file", "demo"])
def test_export_round_trips(runner, tmp_path, holders, source):
    if source == "file":
        load(
            runner,
            tmp_path,
            MEETINGS_FILE.replace('venue = "Ulm"', 'venue = "Ulm"\ncancelled = true'),
        )
    else:
        db.session.execute(delete(Forum))
        db.session.commit()
        demo = runner.invoke(args=["forum", "load", "demo/meine-kommune-weiterdenken.toml"])
        assert demo.exit_code == 0, demo.output
    before = outbox_count()
    for slug in db.session.scalars(select(Forum.slug)).all():
        exported = runner.invoke(args=["forum", "export", slug])
        assert exported.exit_code == 0, exported.output
        assert "+01:00" in exported.output  # times in Europe/Berlin
        result = load(runner, tmp_path, exported.output, name=f"{slug}.toml")
        assert result.exit_code == 0, result.output
        assert "updated" not in result.output and "created" not in result.output, result.output
        again = runner.invoke(args=["forum", "export", slug])
        assert again.output == exported.output
    assert outbox_count() == before

    missing = runner.invoke(args=["forum", "export", "gibt-es-nicht"])
    assert missing.exit_code == 1
    assert "no forum with the slug 'gibt-es-nicht'" in missing.output


def test_public_calendar(runner, tmp_path, client):
    assert load(runner, tmp_path, MEETINGS_FILE).exit_code == 0
    response = client.get("/rounds/mkw-2027/meetings.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    cal = Calendar.from_ical(response.data)
    uids = sorted(str(e["UID"]) for e in cal.walk("VEVENT"))
    assert uids == sorted(f"{m.uid}@forum.example.org" for m in the_round().meetings)
    assert client.get("/rounds/gibt-es-nicht/meetings.ics").status_code == 404
    page = client.get("/forums/mkw").get_data(as_text=True)
    assert 'href="/rounds/mkw-2027/meetings.ics"' in page


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("seats = 2", "seats = 2\nreminder_days = [7, 7]"), "reminder_days: lists a day twice"),
        (("seats = 2", 'seats = 2\nreminder_days = ["7"]'), "reminder_days: expected whole"),
        (("seats = 2", "seats = 2\nreminder_days = 7"), "reminder_days: expected a list"),
        (("seats = 2", "seats = 2\nreminder_days = [400]"), "days must be between 1 and 365"),
        (('venue = "Ulm"', 'venue = "Ulm"\ncancelled = "ja"'), "cancelled: expected true or"),
        (('venue = "Ulm"', 'venue = "Ulm"\nkey = "Zwei Treffen"'), "key: use lowercase"),
    ],
)
def test_new_keys_are_checked(runner, tmp_path, change, expected):
    result = load(runner, tmp_path, MEETINGS_FILE.replace(*change))
    assert result.exit_code == 1
    assert expected in result.output
    assert db.session.scalar(select(func.count()).select_from(Round)) == 0
