"""Seats, limits, the waitlist and the lifecycle, through the service functions and the
maintenance command (real database, real Redis and SMTP for the mails)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from forum.db import utcnow
from forum.extensions import db
from forum.models import Organizer
from registration import admission, lifecycle
from registration.admission import DecisionOutcome as Outcome
from registration.admission.messages import result_message
from registration.models import Application, ApplicationEvent


def reload(application: Application) -> Application:
    db.session.commit()  # a new transaction sees what other connections committed
    db.session.expire_all()
    return db.session.get(Application, application.id)


def waitlist_of(rnd) -> list[tuple[int, int]]:
    db.session.expire_all()
    rows = db.session.execute(
        select(Application.id, Application.waitlist_position)
        .where(Application.round_id == rnd.id, Application.status == "waitlisted")
        .order_by(Application.waitlist_position)
    ).all()
    return [(r[0], r[1]) for r in rows]


def assert_positions_dense(rnd) -> None:
    positions = [p for _id, p in waitlist_of(rnd)]
    assert positions == list(range(1, len(positions) + 1))
    stray = db.session.scalar(
        select(Application.id).where(
            Application.round_id == rnd.id,
            Application.status != "waitlisted",
            Application.waitlist_position.is_not(None),
        )
    )
    assert stray is None


def held(rnd) -> int:
    db.session.expire_all()
    return len(
        db.session.scalars(
            select(Application.id).where(
                Application.round_id == rnd.id, Application.status.in_(["offered", "accepted"])
            )
        ).all()
    )


# The lifecycle table itself: tests/unit/test_lifecycle.py (every pair of statuses and actor).


@pytest.mark.parametrize(
    ("status_path", "action", "outcome"),
    [
        ([], "reject", Outcome.REJECTED),
        (["admit"], "admit", Outcome.REFUSED),  # offered: admit again is refused
        (["admit"], "reject", Outcome.REFUSED),
        (["admit"], "waitlist", Outcome.REFUSED),
        (["reject"], "admit", Outcome.REFUSED),
        (["waitlist"], "waitlist", Outcome.UNCHANGED),
        (["waitlist"], "reject", Outcome.REJECTED),
    ],
)
def test_decisions_allowed_and_refused(
    make_round, make_application, write, status_path, action, outcome
):
    rnd = make_round(seats=3)
    application = make_application(rnd)
    for step in status_path:
        write(admission.decide, application, step)
    before = reload(application).status
    events_before = len(reload(application).events)
    result = write(admission.decide, reload(application), action)
    assert result.outcome == outcome
    assert result_message(result)
    after = reload(application)
    if outcome in (Outcome.REFUSED, Outcome.UNCHANGED):
        assert after.status == before
        assert len(after.events) == events_before
    else:
        assert after.status == outcome.value


def test_pending_applications_cannot_be_decided(make_round, make_application, write):
    rnd = make_round()
    application = make_application(rnd)
    # A separate application still waiting for its e-mail confirmation.
    pending = Application(
        **{
            c: getattr(application, c)
            for c in (
                "round_id first_name last_name organisation organisation_normalized body_type "
                "state role motivation challenge privacy_consent_at privacy_version"
            ).split()
        },
        email="pending@example.org",
        email_normalized="pending@example.org",
    )
    db.session.add(pending)
    lifecycle.start(pending)
    db.session.commit()
    result = write(admission.decide, pending, "admit")
    assert result.outcome == Outcome.REFUSED
    assert "unbestätigt" in result_message(result)
    assert reload(pending).status == "pending_email"


# --- limits ------------------------------------------------------------------------------------


def test_admit_on_a_full_round_waitlists_and_says_why(make_round, make_application, write):
    rnd = make_round(seats=2)
    apps = [make_application(rnd) for _ in range(4)]
    results = [write(admission.decide, a, "admit") for a in apps]
    assert [r.outcome for r in results] == [
        Outcome.OFFERED,
        Outcome.OFFERED,
        Outcome.WAITLISTED,
        Outcome.WAITLISTED,
    ]
    assert "alle 2 Plätze sind vergeben" in result_message(results[2])
    assert "Platz 1 der Warteliste" in result_message(results[2])
    assert "Platz 2 der Warteliste" in result_message(results[3])
    third = reload(apps[2])
    assert third.status == "waitlisted" and third.waitlist_position == 1
    assert "alle 2 Plätze sind vergeben" in third.events[-1].reason
    assert held(rnd) == 2
    assert_positions_dense(rnd)


def test_state_limit(make_round, make_application, write):
    rnd = make_round(seats=10, max_per_state=2)
    bavarians = [make_application(rnd, state="DE-BY") for _ in range(3)]
    swabian = make_application(rnd, state="DE-BW")
    results = [write(admission.decide, a, "admit") for a in [*bavarians, swabian]]
    assert [r.outcome for r in results] == [
        Outcome.OFFERED,
        Outcome.OFFERED,
        Outcome.WAITLISTED,
        Outcome.OFFERED,
    ]
    assert "Kontingent für Bayern (2 Plätze)" in result_message(results[2])
    assert "Kontingent für Bayern" in reload(bavarians[2]).events[-1].reason


def test_organisation_limit_compares_normalised_names(make_round, make_application, write):
    rnd = make_round(seats=10, max_per_organisation=1)
    first = make_application(rnd, organisation="Stadt Fürth")
    second = make_application(rnd, organisation="  stadt   FÜRTH ")
    other = make_application(rnd, organisation="Stadt Erlangen")
    assert write(admission.decide, first, "admit").outcome == Outcome.OFFERED
    result = write(admission.decide, second, "admit")
    assert result.outcome == Outcome.WAITLISTED
    assert "Höchstzahl von 1 Plätzen" in result_message(result)
    assert write(admission.decide, other, "admit").outcome == Outcome.OFFERED


def test_bulk_decision_respects_the_seats(make_round, make_application, write):
    rnd = make_round(seats=3)
    apps = [make_application(rnd) for _ in range(5)]
    results = write(admission.decide_many, rnd, apps, "admit")
    assert [r.outcome for r in results].count(Outcome.OFFERED) == 3
    assert [r.outcome for r in results].count(Outcome.WAITLISTED) == 2
    assert held(rnd) == 3
    assert_positions_dense(rnd)


# --- promotion ---------------------------------------------------------------------------------


def test_freed_seat_goes_to_the_first_that_fits_and_skipped_ones_keep_their_place(
    make_round, make_application, write, smtp, work
):
    rnd = make_round(seats=2, max_per_state=1)
    by = make_application(rnd, state="DE-BY")
    bw = make_application(rnd, state="DE-BW")
    assert write(admission.decide, by, "admit").outcome == Outcome.OFFERED
    assert write(admission.decide, bw, "admit").outcome == Outcome.OFFERED
    # Waitlist: a Bavarian first (blocked by the state limit once a seat is free), then two
    # from Baden-Württemberg.
    by2 = make_application(rnd, state="DE-BY")
    bw2 = make_application(rnd, state="DE-BW")
    bw3 = make_application(rnd, state="DE-BW")
    for a in (by2, bw2, bw3):
        write(admission.decide, a, "waitlist")
    assert [i for i, _p in waitlist_of(rnd)] == [by2.id, bw2.id, bw3.id]

    # The Baden-Württemberg seat frees: BY2 is skipped (Bavaria is full), BW2 gets it.
    result = write(admission.decline_offer, reload(bw))
    assert result.outcome == Outcome.DECLINED
    assert [p.id for p in result.promoted] == [bw2.id]
    assert reload(bw2).status == "offered"
    assert reload(bw2).offer_deadline is not None
    skipped = reload(by2)
    assert skipped.status == "waitlisted" and skipped.waitlist_position == 1
    note = skipped.events[-1]
    assert note.from_status == note.to_status == "waitlisted"
    assert note.actor == "system"
    assert "Kontingent für Bayern" in note.reason
    assert [i for i, _p in waitlist_of(rnd)] == [by2.id, bw3.id]
    assert_positions_dense(rnd)

    # The Bavarian seat frees: now BY2 fits and is first.
    write(admission.revoke, reload(by), None, "Doppelt angemeldet")
    assert reload(by).status == "revoked"
    assert reload(by2).status == "offered"
    assert [i for i, _p in waitlist_of(rnd)] == [bw3.id]
    assert_positions_dense(rnd)

    work()
    subjects = [m["Subject"] for m in smtp.to(bw2.email)]
    assert any("bitte bis" in s for s in subjects)
    revoked = smtp.to(by.email)[-1]
    assert "Doppelt angemeldet" in revoked.get_body(preferencelist=("plain",)).get_content()


def test_no_auto_promote_leaves_the_seat_free(make_round, make_application, write):
    rnd = make_round(seats=1, auto_promote=False)
    first, second = make_application(rnd), make_application(rnd)
    write(admission.decide, first, "admit")
    write(admission.decide, second, "admit")
    result = write(admission.decline_offer, reload(first))
    assert result.promoted == []
    assert reload(second).status == "waitlisted"
    # Promoting by hand works.
    assert write(admission.decide, reload(second), "admit").outcome == Outcome.OFFERED
    assert "Von Hand" in reload(second).events[-1].reason


def test_promote_by_hand_is_refused_when_full(make_round, make_application, write):
    rnd = make_round(seats=1)
    first, second = make_application(rnd), make_application(rnd)
    write(admission.decide, first, "admit")
    write(admission.decide, second, "waitlist")
    result = write(admission.decide, reload(second), "admit")
    assert result.outcome == Outcome.REFUSED
    assert "bleibt auf Platz 1" in result_message(result)
    assert reload(second).status == "waitlisted"


def test_withdrawal_from_the_waitlist_closes_the_gap(make_round, make_application, write):
    rnd = make_round(seats=1)
    apps = [make_application(rnd) for _ in range(5)]
    for a in apps:
        write(admission.decide, a, "admit")
    assert [p for _i, p in waitlist_of(rnd)] == [1, 2, 3, 4]
    write(admission.withdraw, reload(apps[2]))  # position 2
    assert [i for i, _p in waitlist_of(rnd)] == [apps[1].id, apps[3].id, apps[4].id]
    assert_positions_dense(rnd)
    write(admission.decide, reload(apps[3]), "reject")
    assert [i for i, _p in waitlist_of(rnd)] == [apps[1].id, apps[4].id]
    assert_positions_dense(rnd)


def test_moving_waitlist_entries(make_round, make_application, write):
    rnd = make_round(seats=1)
    apps = [make_application(rnd) for _ in range(6)]
    for a in apps:
        write(admission.decide, a, "admit")
    w = [a.id for a in apps[1:]]  # positions 1..5
    organizer = Organizer(email="x@example.org", password_hash="-", session_token="-")
    result = write(admission.move_on_waitlist, reload(apps[5]), 2, organizer, "Vorrang Landkreis")
    assert result.outcome == Outcome.MOVED
    assert [i for i, _p in waitlist_of(rnd)] == [w[0], w[4], w[1], w[2], w[3]]
    assert_positions_dense(rnd)
    event = reload(apps[5]).events[-1]
    assert "von Platz 5 auf Platz 2" in event.reason and "Vorrang Landkreis" in event.reason
    assert event.actor == "organizer" and event.actor_label == "x@example.org"

    write(admission.move_on_waitlist, reload(apps[1]), 99, organizer, "nach hinten")
    assert [i for i, _p in waitlist_of(rnd)] == [w[4], w[1], w[2], w[3], w[0]]
    assert_positions_dense(rnd)
    same = write(admission.move_on_waitlist, reload(apps[1]), 5, organizer, "nochmal")
    assert same.outcome == Outcome.UNCHANGED
    refused = write(admission.move_on_waitlist, reload(apps[0]), 1, organizer, "x")
    assert refused.outcome == Outcome.REFUSED  # offered, not on the waitlist


# --- first come --------------------------------------------------------------------------------


def test_first_come_offers_on_confirmation_then_waitlists(client, make_round, smtp, work):
    import re

    from tests.helpers import application_data

    rnd = make_round(seats=1, admission="first_come")
    for n in range(2):
        client.post(
            f"/rounds/{rnd.slug}/apply",
            data=application_data(email=f"first{n}@gemeinde.de", organisation=f"Gemeinde {n}"),
        )
    work()
    for n in range(2):
        body = smtp.to(f"first{n}@gemeinde.de")[0].get_body(("plain",)).get_content()
        path = re.search(r"https://forum\.example\.org(/applications/confirm/\S+)", body)[1]
        assert client.post(path).status_code == 200
    db.session.expire_all()
    statuses = db.session.execute(
        select(Application.email, Application.status, Application.waitlist_position).order_by(
            Application.id
        )
    ).all()
    assert [(s, p) for _e, s, p in statuses] == [("offered", None), ("waitlisted", 1)]
    work()
    assert "bitte bis" in smtp.to("first0@gemeinde.de")[-1]["Subject"]
    assert smtp.to("first1@gemeinde.de")[-1]["Subject"].startswith("Warteliste")


# --- deadlines and the maintenance run ---------------------------------------------------------


def test_maintenance_run_lapses_offers_and_promotes(
    make_round, make_application, write, runner, smtp, work
):
    rnd = make_round(seats=1, offer_hours=24)
    first, second = make_application(rnd), make_application(rnd)
    write(admission.decide, first, "admit")
    write(admission.decide, second, "admit")
    # Not yet due: nothing happens.
    result = runner.invoke(args=["maintenance", "run"])
    assert result.exit_code == 0, result.output
    assert reload(first).status == "offered"

    later = utcnow() + timedelta(hours=25)
    assert write(admission.lapse_expired_offers, later) == 1
    assert reload(first).status == "lapsed"
    promoted = reload(second)
    assert promoted.status == "offered"
    assert promoted.offer_deadline > later + timedelta(hours=23)
    reasons = [e.reason for e in promoted.events]
    assert "Von der Warteliste nachgerückt" in reasons
    work()
    assert smtp.to(first.email)[-1]["Subject"].startswith("Platzangebot verfallen")


def test_maintenance_command_lapses_past_deadlines(make_round, make_application, write, runner):
    rnd = make_round(seats=1, offer_hours=1)
    first, second = make_application(rnd), make_application(rnd)
    write(admission.decide, first, "admit")
    write(admission.decide, second, "admit")
    # Move the deadline into the past as time would.
    db.session.commit()
    db.session.execute(
        Application.__table__.update()
        .where(Application.id == first.id)
        .values(offer_deadline=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()
    result = runner.invoke(args=["maintenance", "run"])
    assert result.exit_code == 0, result.output
    assert reload(first).status == "lapsed"
    assert reload(second).status == "offered"
    assert waitlist_of(rnd) == []


def test_accept_after_the_deadline_lapses(make_round, make_application, write):
    rnd = make_round(seats=1, offer_hours=1)
    first, second = make_application(rnd), make_application(rnd)
    write(admission.decide, first, "admit")
    write(admission.decide, second, "admit")
    result = write(admission.accept_offer, reload(first), utcnow() + timedelta(hours=2))
    assert result.outcome == Outcome.LAPSED
    assert reload(first).status == "lapsed"
    assert reload(second).status == "offered"


# --- mails -------------------------------------------------------------------------------------


def test_transition_mails_in_german_and_english(make_round, make_application, write, smtp, work):
    rnd = make_round(seats=1)
    de = make_application(rnd)
    en = make_application(rnd, locale="en")
    write(admission.decide, de, "admit", None, "Herzlich willkommen!")
    write(admission.decide, en, "admit")
    write(admission.accept_offer, reload(de))
    work()
    offered = smtp.to(de.email)[0]
    text = offered.get_body(("plain",)).get_content()
    assert "/offers/" in text and "Herzlich willkommen!" in text
    assert "Bitte sagen Sie bis" in text
    html = offered.get_body(("html",)).get_content()
    assert "/offers/" in html

    waitlisted = smtp.to(en.email)[0]
    assert waitlisted["Subject"] == f"Waiting list: {rnd.title}"
    assert "currently at position 1" in waitlisted.get_body(("plain",)).get_content()

    accepted = smtp.to(de.email)[1]
    assert accepted["Subject"].startswith("Zusage bestätigt")
    assert "1. Arbeitstreffen" in accepted.get_body(("plain",)).get_content()
    ics = [p for p in accepted.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(ics) == 1
    calendar = Calendar.from_ical(ics[0].get_content())
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    assert str(events[0]["summary"]).endswith("1. Arbeitstreffen")
    assert "Nürnberg" in str(events[0]["location"])
    assert events[0].decoded("dtstart") == rnd.meetings[0].starts.replace(microsecond=0)


def test_rejection_mail_carries_the_message(make_round, make_application, write, smtp, work):
    rnd = make_round()
    application = make_application(rnd)
    write(admission.decide, application, "reject", None, "Leider passt Ihr Profil nicht.")
    work()
    mail = smtp.to(application.email)[0]
    assert "Leider passt Ihr Profil nicht." in mail.get_body(("plain",)).get_content()
    event = db.session.scalars(
        select(ApplicationEvent).where(ApplicationEvent.to_status == "rejected")
    ).one()
    assert event.reason == "Leider passt Ihr Profil nicht."
