"""Seats and limits under parallel requests: many organizer sessions (and applicants) against
the service under gunicorn with several worker processes and threads, on the test database
(SQLite or PostgreSQL). Real logins, real CSRF tokens parsed from the pages."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

from forum.extensions import db
from registration.models import Application
from registration.tokens import Purpose, make_token
from tests.helpers.parallel import CSRF, organizer_sessions, run_parallel, statuses

# serial: dozens of sessions against gunicorn load the two cores; not beside other tests
pytestmark = [pytest.mark.slow, pytest.mark.serial]


def admit_task(server, session_token, application_id: int, action: str = "admit"):
    session, token = session_token

    def task():
        response = session.post(
            f"{server.url}/admin/applications/{application_id}/decision",
            data={"action": action, "csrf_token": token},
            allow_redirects=False,
            timeout=60,
        )
        return response.status_code

    return task


def positions(apps: list[Application]) -> list[int]:
    return sorted(a.waitlist_position for a in apps)


def test_parallel_admits_never_exceed_the_seats(
    live_server, make_round, make_application, make_organizer
):
    rnd = make_round(seats=5)
    apps = [make_application(rnd) for _ in range(30)]
    sessions = organizer_sessions(live_server, make_organizer, rnd.forum, 8, 3)  # 24 sessions
    tasks = [admit_task(live_server, sessions[i % 24], a.id) for i, a in enumerate(apps)]
    codes = run_parallel(tasks, workers=24)
    assert codes == [302] * 30, codes
    result = statuses(rnd)
    assert len(result.get("offered", [])) == 5
    assert len(result.get("waitlisted", [])) == 25
    assert positions(result["waitlisted"]) == list(range(1, 26))
    assert set(result) == {"offered", "waitlisted"}


def test_parallel_declines_and_admits(live_server, make_round, make_application, make_organizer):
    rnd = make_round(seats=5)
    holders = [make_application(rnd) for _ in range(5)]
    others = [make_application(rnd) for _ in range(15)]
    sessions = organizer_sessions(live_server, make_organizer, rnd.forum, 5, 3)
    # First the five holders get their offers.
    codes = run_parallel(
        [admit_task(live_server, sessions[i], a.id) for i, a in enumerate(holders)], 5
    )
    assert codes == [302] * 5
    assert len(statuses(rnd)["offered"]) == 5

    # Applicants open their offer pages (each in their own browser) ...
    def offer_session(application):
        s = requests.Session()
        url = f"{live_server.url}/offers/{make_token(Purpose.OFFER, application.public_id)}"
        page = s.get(url, timeout=30)
        assert page.status_code == 200
        return s, url, CSRF.search(page.text)[1]

    browsers = [offer_session(a) for a in holders]

    def decline_task(browser):
        s, url, token = browser
        return lambda: (
            s.post(
                url,
                data={"action": "decline", "csrf_token": token},
                allow_redirects=False,
                timeout=60,
            ).status_code
        )

    # ... and decline while 15 admits come in from the organizers.
    tasks = [decline_task(b) for b in browsers]
    tasks += [admit_task(live_server, sessions[i % 15], a.id) for i, a in enumerate(others)]
    codes = run_parallel(tasks, workers=20)
    assert codes == [302] * 20, codes
    result = statuses(rnd)
    assert len(result["declined"]) == 5
    assert len(result["offered"]) == 5
    assert len(result["waitlisted"]) == 10
    assert positions(result["waitlisted"]) == list(range(1, 11))


def test_parallel_admits_respect_state_and_organisation_limits(
    live_server, make_round, make_application, make_organizer
):
    rnd = make_round(seats=10, max_per_state=4, max_per_organisation=2)
    apps = [make_application(rnd, state="DE-BY", organisation="Stadt Ansbach") for _ in range(5)]
    apps += [make_application(rnd, state="DE-BY") for _ in range(7)]
    apps += [make_application(rnd, state="DE-BW") for _ in range(8)]
    sessions = organizer_sessions(live_server, make_organizer, rnd.forum, 5, 4)
    codes = run_parallel(
        [admit_task(live_server, sessions[i % 20], a.id) for i, a in enumerate(apps)], 20
    )
    assert codes == [302] * 20, codes
    result = statuses(rnd)
    offered = result["offered"]
    assert sum(1 for a in offered if a.state == "DE-BY") == 4
    assert sum(1 for a in offered if a.state == "DE-BW") == 4
    assert sum(1 for a in offered if a.organisation == "Stadt Ansbach") <= 2
    assert len(result["waitlisted"]) == 12
    assert positions(result["waitlisted"]) == list(range(1, 13))
    # And the database agrees on the held seats per state.
    per_state = dict(
        db.session.execute(
            select(Application.state, func.count())
            .where(Application.round_id == rnd.id, Application.status == "offered")
            .group_by(Application.state)
        ).all()
    )
    assert per_state == {"DE-BY": 4, "DE-BW": 4}
