"""Issue 13 under parallel requests against gunicorn (several processes and threads), on the
test database: organizers proposing groups at the same time, the same invitation list uploaded
twice at once, and an invitation link submitted twice at once."""

from __future__ import annotations

import io
import re

import pytest
import requests
from sqlalchemy import func, select

from forum.extensions import db
from registration import admission
from registration.models import Application, GroupMember, Invitation, RoundGroup
from tests.helpers import application_data
from tests.helpers.parallel import organizer_sessions, run_parallel

# serial: dozens of sessions against gunicorn load the two cores; not beside other tests
pytestmark = [pytest.mark.slow, pytest.mark.serial]

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def test_parallel_group_proposals_leave_one_consistent_assignment(
    live_server, make_round, make_application, make_organizer, write
):
    rnd = make_round(seats=20)
    people = [make_application(rnd, state=("DE-BY" if n % 2 else "DE-BW")) for n in range(12)]
    for person in people:
        write(admission.decide, db.session.get(Application, person.id), "admit")
    sessions = organizer_sessions(live_server, make_organizer, rnd.forum, 4, 2)  # 8 sessions

    def propose_task(session_token, size):
        session, token = session_token
        return lambda: (
            session.post(
                f"{live_server.url}/admin/rounds/{rnd.slug}/groups/propose",
                data={"size": str(size), "csrf_token": token},
                allow_redirects=False,
                timeout=60,
            ).status_code
        )

    codes = run_parallel([propose_task(s, 3 + i % 2) for i, s in enumerate(sessions)], 8)
    assert codes == [302] * 8, codes
    db.session.commit()
    db.session.expire_all()
    names = db.session.scalars(select(RoundGroup.name).order_by(RoundGroup.id)).all()
    assert names == ["Gruppe 1", "Gruppe 2", "Gruppe 3", "Gruppe 4"]  # no duplicates
    members = db.session.scalars(select(GroupMember.application_id)).all()
    assert sorted(members) == sorted(p.id for p in people)  # everyone exactly once


def test_same_invitation_list_uploaded_twice_at_once(
    live_server, make_round, make_organizer, smtp, work
):
    rnd = make_round(invitation_only=True)
    sessions = organizer_sessions(live_server, make_organizer, rnd.forum, 2, 3)
    text = "email,first_name,last_name\n" + "".join(
        f"p{n}@gemeinde-{n}.de,V{n},N{n}\n" for n in range(20)
    )

    def upload_task(session_token):
        session, token = session_token
        return lambda: (
            session.post(
                f"{live_server.url}/admin/rounds/{rnd.slug}/invitations",
                data={"csrf_token": token},
                files={"file": ("liste.csv", io.BytesIO(text.encode()), "text/csv")},
                allow_redirects=False,
                timeout=60,
            ).status_code
        )

    codes = run_parallel([upload_task(s) for s in sessions], 6)
    assert codes == [302] * 6, codes
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 20
    work()
    assert len(smtp.messages) == 20  # one invitation each, never two


def test_invitation_link_submitted_twice_at_once(live_server, make_round, runner, tmp_path):
    from registration.invitations import invitation_token

    rnd = make_round(invitation_only=True, admission="first_come", seats=3)
    path = tmp_path / "l.csv"
    path.write_text("email,first_name,last_name\nob@stadt.de,Olga,Brandt\n", encoding="utf-8")
    assert runner.invoke(args=["round", "invite", rnd.slug, str(path)]).exit_code == 0
    invitation = db.session.scalar(select(Invitation))
    url = f"{live_server.url}/invitations/{invitation_token(invitation)}"

    def browser():
        s = requests.Session()
        page = s.get(url, timeout=30)
        return s, CSRF.search(page.text)[1]

    browsers = [browser() for _ in range(6)]

    def submit(b):
        s, token = b
        return lambda: (
            s.post(
                url,
                data={**application_data(email="ob@stadt.de"), "csrf_token": token},
                allow_redirects=False,
                timeout=60,
            ).status_code
        )

    codes = run_parallel([submit(b) for b in browsers], 6)
    # One registration; the others find it and get the "already registered" page.
    assert sorted(codes) == [200] * 5 + [302], codes
    db.session.commit()
    db.session.expire_all()
    applications = db.session.scalars(select(Application)).all()
    assert len(applications) == 1
    assert applications[0].status == "offered"  # first come: a seat at once, no confirmation
    assert db.session.scalar(select(Invitation.application_id)) == applications[0].id
