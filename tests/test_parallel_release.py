"""Releasing staged decisions from several organizer sessions at the same moment (issue 9):
the service under gunicorn (several processes and threads) on the test database (SQLite or
PostgreSQL). The release happens once: every applicant gets exactly one mail, and no seat or
limit is exceeded."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from forum.models import Organizer, OutboxMessage
from registration.models import Application, ApplicationEvent
from registration.selection.models import ApplicationTag, Review, StagedDecision
from tests.helpers.parallel import organizer_sessions, run_parallel, statuses

# serial: dozens of sessions against gunicorn load the two cores; not beside other tests
pytestmark = [pytest.mark.slow, pytest.mark.serial]

RELEASED = "Vorgemerkte Entscheidung freigegeben"


def post(server, session_token, path: str, data: dict):
    session, token = session_token

    def task():
        response = session.post(
            server.url + path,
            data={**data, "csrf_token": token},
            allow_redirects=False,
            timeout=120,
        )
        return response.status_code

    return task


@pytest.mark.parametrize("sessions_count", [8])
def test_parallel_release_happens_once(
    live_server, make_round, make_application, make_organizer, smtp, work, sessions_count
):
    rnd = make_round(seats=10, max_per_state=6, max_per_organisation=2, review_criteria=["G"])
    apps = []
    for n in range(30):
        apps.append(
            make_application(
                rnd,
                state="DE-BY" if n % 3 else "DE-BW",
                organisation="Stadt Ansbach" if n < 6 else f"Gemeinde {n}",
            )
        )
    sessions = organizer_sessions(live_server, make_organizer, rnd.forum, 4, 2)
    organizer = db.session.scalar(select(Organizer).order_by(Organizer.id))
    for n, a in enumerate(apps):
        db.session.add(
            Review(
                application_id=a.id,
                organizer_id=organizer.id,
                scores=[5 - n % 5],
                score=float(5 - n % 5),
            )
        )
    db.session.commit()

    # One organizer proposes: 30 decisions staged (10 admit, 20 waitlist).
    path = f"/admin/rounds/{rnd.slug}/selection"
    assert run_parallel([post(live_server, sessions[0], path, {"action": "propose"})], 1) == [302]
    db.session.commit()
    staged = db.session.scalar(
        select(func.count()).select_from(StagedDecision).where(StagedDecision.round_id == rnd.id)
    )
    assert staged == 30

    # Eight sessions press "release" at the same moment.
    tasks = [post(live_server, s, path, {"action": "release"}) for s in sessions[:sessions_count]]
    codes = run_parallel(tasks, workers=sessions_count)
    assert codes == [302] * sessions_count, codes

    result = statuses(rnd)
    offered = result.get("offered", [])
    waitlisted = result.get("waitlisted", [])
    assert len(offered) == 10
    assert len(waitlisted) == 20
    assert sorted(a.waitlist_position for a in waitlisted) == list(range(1, 21))
    assert max(Counter(a.state for a in offered).values()) <= 6
    assert Counter(a.organisation for a in offered)["Stadt Ansbach"] <= 2
    # Released once: one release row in each history, nothing staged any more.
    released = Counter(
        db.session.scalars(
            select(ApplicationEvent.application_id).where(
                ApplicationEvent.reason.like(RELEASED + "%")
            )
        )
    )
    assert sorted(released.values()) == [1] * 30
    assert db.session.scalar(select(func.count()).select_from(StagedDecision)) == 0

    # Every applicant gets exactly one mail, through the real SMTP server.
    outbox = Counter(db.session.scalars(select(OutboxMessage.recipient)))
    assert sorted(outbox.values()) == [1] * 30
    work()
    for a in apps:
        assert len(smtp.to(a.email)) == 1, a.email
    assert len(smtp.messages) == 30
    db.session.commit()
    assert (
        db.session.scalar(
            select(func.count()).where(
                Application.round_id == rnd.id, Application.status == "offered"
            )
        )
        == 10
    )


def test_double_clicks_store_one_review_and_one_tag(
    live_server, make_round, make_application, make_organizer
):
    """The same organizer's review (and the same tag) sent six times at once: stored once."""
    rnd = make_round(review_criteria=["A", "B"])
    application = make_application(rnd)
    (session,) = organizer_sessions(live_server, make_organizer, rnd.forum, 1, 1)
    base = f"/admin/applications/{application.id}"
    review = {"score-1": "4", "score-2": "5", "note": "gut"}
    codes = run_parallel([post(live_server, session, base + "/review", review)] * 6, 6)
    assert codes == [302] * 6, codes
    codes = run_parallel([post(live_server, session, base + "/tags", {"tag": "Favorit"})] * 6, 6)
    assert codes == [302] * 6, codes
    db.session.commit()
    reviews = db.session.scalars(select(Review)).all()
    assert len(reviews) == 1 and reviews[0].scores == [4, 5]
    assert db.session.scalars(select(ApplicationTag.tag)).all() == ["Favorit"]
    reasons = Counter(
        db.session.scalars(
            select(ApplicationEvent.reason).where(ApplicationEvent.application_id == application.id)
        )
    )
    assert reasons["Bewertung abgegeben"] == 1 and reasons["Bewertung geändert"] == 5
    assert reasons["Schlagwort hinzugefügt: Favorit"] == 1
