"""Reminders before meetings (issue 8, part 2): one mail per accepted participant, meeting and
reminder day, from ``flask maintenance run`` (what the scheduler runs); never twice, also with
several runs at the same moment; nothing for offers, cancelled, past or far meetings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from forum.db import utcnow
from forum.extensions import db
from forum.maintenance import run_maintenance
from forum.models import Meeting, OutboxMessage, Round
from registration import admission
from registration.models import Application, MeetingReminder
from tests.helpers import ROOT

LINK = re.compile(r"https://forum\.example\.org(/status/\S+)")


def accept(write, application) -> None:
    write(admission.decide, db.session.get(Application, application.id), "admit")
    write(admission.accept_offer, db.session.get(Application, application.id))


def add_meeting(rnd: Round, key: str, starts_in: timedelta, **values) -> None:
    starts = utcnow() + starts_in
    meeting = Meeting(
        round_id=rnd.id,
        key=key,
        title=values.pop("title", f"Treffen {key}"),
        starts=starts,
        ends=starts + timedelta(hours=6),
        venue=values.pop("venue", "Augsburg"),
        address=values.pop("address", "Maximilianstraße 1"),
        **values,
    )
    db.session.add(meeting)
    db.session.commit()


def reminders_to(smtp, address: str) -> list:
    return [m for m in smtp.to(address) if m["Subject"].startswith(("Erinnerung", "Reminder"))]


def maintenance(runner) -> int:
    result = runner.invoke(args=["maintenance", "run"])
    assert result.exit_code == 0, result.output
    return int(re.search(r"meeting_reminders: (-?\d+)", result.output)[1])


@pytest.fixture
def people(make_round, make_application, write):
    """A round with seats for three: two accepted (German, English), one offered, one on the
    waitlist. Its first meeting (from make_round) is 60 days ahead."""
    rnd = make_round(seats=3)
    anna = make_application(rnd, email="anna@gemeinde.de")
    bob = make_application(rnd, email="bob@town.example", locale="en")
    offered = make_application(rnd, email="offer@gemeinde.de")
    waiting = make_application(rnd, email="wait@gemeinde.de")
    accept(write, anna)
    accept(write, bob)
    write(admission.decide, db.session.get(Application, offered.id), "admit")
    write(admission.decide, db.session.get(Application, waiting.id), "admit")
    assert db.session.get(Application, waiting.id).status == "waitlisted"
    return rnd, anna, bob, offered, waiting


def test_reminders_once_per_meeting_and_day(runner, people, smtp, work, client):
    rnd, anna, bob, offered, waiting = people
    work()
    smtp.sink.clear()
    add_meeting(rnd, "bald", timedelta(days=6, hours=20), title="Zweites Treffen")
    add_meeting(rnd, "abgesagt", timedelta(days=2), cancelled=True)
    add_meeting(rnd, "vorbei", timedelta(days=-1))

    assert maintenance(runner) == 2
    work()
    (mail,) = reminders_to(smtp, anna.email)
    assert mail["Subject"].startswith("Erinnerung: Zweites Treffen am ")
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Augsburg" in text and "Maximilianstraße 1" in text
    status_path = LINK.search(text)[1]
    assert client.get(status_path).status_code == 200
    (english,) = reminders_to(smtp, bob.email)
    assert english["Subject"].startswith("Reminder: Zweites Treffen on ")
    assert reminders_to(smtp, offered.email) == [] and reminders_to(smtp, waiting.email) == []

    # Again: nothing new.
    assert maintenance(runner) == 0
    work()
    assert len(reminders_to(smtp, anna.email)) == 1

    # A day before: the second reminder day, once.
    db.session.commit()
    meeting = db.session.scalar(select(Meeting).where(Meeting.key == "bald"))
    meeting.starts = utcnow() + timedelta(hours=20)
    meeting.ends = meeting.starts + timedelta(hours=6)
    db.session.commit()
    assert maintenance(runner) == 2
    assert maintenance(runner) == 0
    work()
    assert len(reminders_to(smtp, anna.email)) == 2
    days = db.session.scalars(
        select(MeetingReminder.days).where(MeetingReminder.application_id == anna.id)
    ).all()
    assert sorted(days) == [1, 7]


def test_nearest_day_only_and_none_when_switched_off(runner, people, smtp, work, write):
    rnd, anna, *_ = people
    add_meeting(rnd, "spaet", timedelta(hours=10))  # both 7 and 1 days have passed
    assert maintenance(runner) == 2
    assert sorted(db.session.scalars(select(MeetingReminder.days)).all()) == [1, 1]

    db.session.commit()
    rnd = db.session.get(Round, rnd.id)
    rnd.reminder_days = []
    db.session.commit()
    add_meeting(rnd, "ohne", timedelta(hours=12))
    assert maintenance(runner) == 0


def many_participants(make_round, make_application, write, rounds=3, per_round=6):
    for _ in range(rounds):
        rnd = make_round(seats=per_round)
        for _ in range(per_round):
            accept(write, make_application(rnd))
        db.session.commit()
        meeting = db.session.scalar(select(Meeting).where(Meeting.round_id == rnd.id))
        meeting.starts = utcnow() + timedelta(days=3)
        meeting.ends = meeting.starts + timedelta(hours=5)
        db.session.commit()
    return rounds * per_round


def reminder_mails() -> list[tuple[str, int]]:
    db.session.commit()
    return [
        (m.recipient, m.context["meeting"]["starts"])
        for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "meeting_reminder")
        )
    ]


@pytest.mark.slow
def test_parallel_runs_in_threads_send_each_reminder_once(app, make_round, make_application, write):
    expected = many_participants(make_round, make_application, write)
    db.session.commit()
    threads = 6
    barrier = threading.Barrier(threads)
    results: list[dict] = []
    errors: list[BaseException] = []

    def run():
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                results.append(run_maintenance())
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(120)
    assert errors == []
    assert sorted(r["meeting_reminders"] for r in results)[-1] >= 1
    assert sum(r["meeting_reminders"] for r in results) == expected
    mails = reminder_mails()
    assert len(mails) == expected == len(set(mails))
    assert db.session.scalar(select(func.count()).select_from(MeetingReminder)) == expected


@pytest.mark.slow
def test_two_maintenance_commands_at_once_send_each_reminder_once(
    app, make_round, make_application, write, database_url, redis_url, smtp, tmp_path
):
    expected = many_participants(make_round, make_application, write, rounds=4, per_round=8)
    db.session.commit()
    env = {
        **os.environ,
        "FORUM_SQLALCHEMY_DATABASE_URI": database_url,
        "FORUM_RQ_CONNECTION": redis_url,
        "FORUM_SECRET_KEY": "test-secret",
        "FORUM_MAIL_PORT": str(smtp.port),
        "FORUM_PUBLIC_BASE_URL": "https://forum.example.org",
        "FORUM_INSTANCE_PATH": str(tmp_path / "cli-instance"),
    }
    command = [sys.executable, "-m", "flask", "--app", "app", "maintenance", "run"]
    procs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    counts = [int(re.search(r"meeting_reminders: (\d+)", out)[1]) for out in outputs]
    assert sum(counts) == expected, outputs
    mails = reminder_mails()
    assert len(mails) == expected == len(set(mails))
