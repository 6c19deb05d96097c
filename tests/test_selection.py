"""The selection page through HTTP (issue 9): the ranking, a proposal that holds the limits
per state and organisation, staged decisions that change nothing until released, adjusting
them one by one, the release through the admission code with one mail per applicant, the
history, and bad input."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from forum.models import Organizer
from registration.models import Application, ApplicationEvent
from registration.selection.models import Review, StagedDecision


def scored(application, *scores, by: list[Organizer]):
    """Store one review per score (one reviewer each), as the review form would."""
    for score, organizer in zip(scores, by, strict=False):
        db.session.add(
            Review(
                application_id=application.id,
                organizer_id=organizer.id,
                scores=[score],
                score=float(score),
            )
        )
    db.session.commit()


def fresh(application) -> Application:
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Application, application.id)


def ranking_ids(html: str) -> list[int]:
    table = html[html.index('id="ranking"') :]
    return [int(n) for n in re.findall(r'<tr id="row-(\d+)"', table)]


def staged(rnd) -> dict[int, str]:
    db.session.commit()
    return dict(
        db.session.execute(
            select(StagedDecision.application_id, StagedDecision.action).where(
                StagedDecision.round_id == rnd.id
            )
        ).all()
    )


@pytest.fixture
def field(make_round, make_application, make_organizer):
    """Seats 4, at most 2 per state, 1 per organisation; eight applicants, ranked A..H."""
    rnd = make_round(seats=4, max_per_state=2, max_per_organisation=1, review_criteria=["G"])
    reviewers = [make_organizer(email=f"r{n}@forum.example.org") for n in range(2)]
    spec = [
        ("A", "DE-BY", "Stadt Xdorf", 5),
        ("B", "DE-BY", "Stadt Xdorf", 4.5),  # same organisation as A: skipped
        ("C", "DE-BY", None, 4),
        ("D", "DE-BY", None, 3.5),  # Bavaria full (A, C): skipped
        ("E", "DE-BW", None, 3),
        ("F", "DE-BW", None, 2),
        ("G", "DE-BW", None, 1),
        ("H", "DE-BW", None, None),  # not reviewed: last
    ]
    apps = {}
    for name, state, organisation, score in spec:
        extra = {"organisation": organisation} if organisation else {}
        a = make_application(rnd, first_name=name, last_name=f"Person{name}", state=state, **extra)
        if score is not None:
            if score == int(score):
                scored(a, int(score), int(score), by=reviewers)
            else:
                scored(a, int(score) + 1, int(score), by=reviewers)  # 4.5 = (5 + 4) / 2
        apps[name] = a
    return rnd, apps


def test_proposal_holds_the_limits_and_changes_nothing_until_released(
    client, login, field, smtp, work
):
    rnd, apps = field
    login(email="lea@forum.example.org", forums=[rnd.forum])
    url = f"/admin/rounds/{rnd.slug}/selection"
    html = client.get(url).get_data(as_text=True)
    assert ranking_ids(html) == [apps[n].id for n in "ABCDEFGH"]
    assert 'data-held="0" data-staged-admit="0" data-seats="4"' in html

    response = client.post(url, data={"action": "propose"})
    assert response.status_code == 302
    ids = {a.id: n for n, a in apps.items()}
    proposal = {ids[i]: action for i, action in staged(rnd).items()}
    assert proposal == {
        "A": "admit",
        "B": "waitlist",
        "C": "admit",
        "D": "waitlist",
        "E": "admit",
        "F": "admit",
        "G": "waitlist",
        "H": "waitlist",
    }
    # Staged: no status changed, no mail.
    assert {fresh(a).status for a in apps.values()} == {"submitted"}
    work()
    assert smtp.messages == []
    html = client.get(url).get_data(as_text=True)
    assert 'data-staged-admit="4"' in html
    # The mix of the group as it stands (staged admissions): two per state.
    mix = html[html.index('id="mix-state"') : html.index('id="mix-role"')]
    assert re.search(r"Bayern</th><td class=\"num\">2<", mix)
    assert re.search(r"Baden-Württemberg</th><td class=\"num\">2<", mix)

    # Adjust one by one: G is rejected with a message, F moves to the waitlist, H is admitted.
    stage = f"/admin/rounds/{rnd.slug}/selection/stage"
    for name, decision, message in (
        ("G", "reject", "Leider passt es diesmal nicht."),
        ("F", "waitlist", ""),
        ("H", "admit", "Willkommen!"),
    ):
        response = client.post(
            stage,
            data={"application_id": str(apps[name].id), "decision": decision, "message": message},
        )
        assert response.status_code == 302
    assert staged(rnd)[apps["G"].id] == "reject"

    # Release: in ranking order through the admission code; one mail per applicant.
    response = client.post(url, data={"action": "release"})
    assert response.status_code == 302
    status = {n: fresh(a).status for n, a in apps.items()}
    assert status == {
        "A": "offered",
        "B": "waitlisted",
        "C": "offered",
        "D": "waitlisted",
        "E": "offered",
        "F": "waitlisted",
        "G": "rejected",
        "H": "offered",
    }
    positions = {n: fresh(apps[n]).waitlist_position for n in "BDF"}
    assert positions == {"B": 1, "D": 2, "F": 3}
    assert staged(rnd) == {}
    work()
    for name, a in apps.items():
        assert len(smtp.to(a.email)) == 1, name
    rejected = smtp.to(apps["G"].email)[0].get_body(preferencelist=("plain",)).get_content()
    assert "Leider passt es diesmal nicht." in rejected
    offered = smtp.to(apps["H"].email)[0].get_body(preferencelist=("plain",)).get_content()
    assert "Willkommen!" in offered

    # The history names the organizer for the proposal, the change and the release.
    events = [
        (e.actor_label, e.reason, e.to_status)
        for e in db.session.scalars(
            select(ApplicationEvent)
            .where(ApplicationEvent.application_id == apps["H"].id)
            .order_by(ApplicationEvent.id)
        )
    ]
    reasons = [r for label, r, _s in events if label == "lea@forum.example.org"]
    assert "Vorschlag vorgemerkt: Warteliste (Rang 8)" in reasons
    assert any(r.startswith("Entscheidung vorgemerkt: zulassen") for r in reasons)
    assert "Vorgemerkte Entscheidung freigegeben: zulassen" in reasons
    assert events[-1][0] == "lea@forum.example.org" and events[-1][2] == "offered"

    # A second release finds nothing and changes nothing.
    again = client.post(url, data={"action": "release"}, follow_redirects=True)
    assert "keine vorgemerkten Entscheidungen" in again.get_data(as_text=True)
    work()
    assert len(smtp.messages) == 8


def test_release_counts_seats_as_if_decided_one_by_one(client, login, field, smtp, work):
    """Admissions staged for every free seat, then a seat is given by hand: the release
    waitlists the lowest-ranked staged admission instead of exceeding the seats."""
    rnd, apps = field
    login(forums=[rnd.forum])
    url = f"/admin/rounds/{rnd.slug}/selection"
    client.post(url, data={"action": "propose"})
    manual = client.post(f"/admin/applications/{apps['H'].id}/decision", data={"action": "admit"})
    assert manual.status_code == 302 and fresh(apps["H"]).status == "offered"
    client.post(url, data={"action": "release"})
    status = {n: fresh(a).status for n, a in apps.items()}
    assert [n for n in "ABCDEFGH" if status[n] == "offered"] == ["A", "C", "E", "H"]
    assert status["F"] == "waitlisted"
    held = db.session.scalar(
        select(func.count()).where(Application.round_id == rnd.id, Application.status == "offered")
    )
    assert held == 4


def test_propose_keeps_staged_rejections_and_target_mix(client, login, field):
    rnd, apps = field
    login(forums=[rnd.forum])
    url = f"/admin/rounds/{rnd.slug}/selection"
    client.post(url + "/stage", data={"application_id": str(apps["A"].id), "decision": "reject"})
    client.post(url, data={"action": "propose"})
    proposal = staged(rnd)
    assert proposal[apps["A"].id] == "reject"
    assert proposal[apps["B"].id] == "admit"  # Xdorf's seat is B's now
    html = client.get(url, query_string={"target": "DE-BY >= 2\nDE-BW >= 3\nmayor <= 10"}).text
    assert html.count('data-met="yes"') == 2 and html.count('data-met="no"') == 1
    bad = client.get(url, query_string={"target": "DE-XX >= 2\nirgendwas"})
    assert bad.status_code == 200 and "Nicht verstanden" in bad.text and "1: DE-XX" in bad.text


@pytest.mark.parametrize(
    "data",
    [
        {"action": "drop"},
        {},
    ],
)
def test_bad_actions_change_nothing(client, login, field, data):
    rnd, _apps = field
    login(forums=[rnd.forum])
    response = client.post(f"/admin/rounds/{rnd.slug}/selection", data=data)
    assert response.status_code == 302
    assert staged(rnd) == {}


@pytest.mark.parametrize(
    "data",
    [
        {"application_id": "abc", "decision": "admit"},
        {"application_id": "99999999999", "decision": "admit"},
        {"application_id": "999999", "decision": "admit"},
        {"decision": "admit"},
        {"application_id": "{a}", "decision": "promote"},
        {"application_id": "{a}", "decision": "admit", "message": "x" * 2001},
    ],
)
def test_bad_staging_input_changes_nothing(client, login, field, data):
    rnd, apps = field
    login(forums=[rnd.forum])
    data = {k: v.format(a=apps["A"].id) for k, v in data.items()}
    response = client.post(f"/admin/rounds/{rnd.slug}/selection/stage", data=data)
    assert response.status_code == 302
    assert staged(rnd) == {}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'class="notice' in page and "error" in page


def test_decided_applications_cannot_be_staged(client, login, field):
    rnd, apps = field
    login(forums=[rnd.forum])
    client.post(f"/admin/applications/{apps['A'].id}/decision", data={"action": "reject"})
    response = client.post(
        f"/admin/rounds/{rnd.slug}/selection/stage",
        data={"application_id": str(apps["A"].id), "decision": "admit"},
        follow_redirects=True,
    )
    assert "schon entschieden" in response.get_data(as_text=True)
    assert staged(rnd) == {}


@pytest.mark.slow
def test_three_organizers_select_24_of_60(
    app, client, login, make_round, make_application, smtp, work
):
    """The issue's "done when": three organizers review 60 applications for 24 seats (two
    reviews each), see a proposal that respects every limit, adjust it, and release it."""
    rnd = make_round(
        seats=24,
        max_per_state=14,
        max_per_organisation=2,
        review_criteria=["Motivation", "Passung", "Herausforderung"],
    )
    apps = [
        make_application(
            rnd,
            state="DE-BY" if n % 3 else "DE-BW",
            organisation="Stadt Augsburg" if n % 10 == 0 else f"Gemeinde {n}",
            role="mayor" if n % 2 else "deputy",
        )
        for n in range(60)
    ]
    organizers = [
        login(f"orga{k}@forum.example.org", admin=False, forums=[rnd.forum], as_client=c)
        for k, c in enumerate([client, app.test_client(), app.test_client()])
    ]
    for n, a in enumerate(apps):
        for k, c in enumerate(organizers):
            if (n + k) % 3 == 0:
                continue  # two of the three review each application
            scores = [str(1 + (n * 7 + k * 3 + j) % 5) for j in range(3)]
            data = {f"score-{j + 1}": s for j, s in enumerate(scores)}
            assert c.post(f"/admin/applications/{a.id}/review", data=data).status_code == 302
    for c in organizers:  # each left a third to the others
        assert 'data-count="20"' in c.get(f"/admin/rounds/{rnd.slug}/review").text
    url = f"/admin/rounds/{rnd.slug}/selection"
    assert organizers[0].post(url, data={"action": "propose"}).status_code == 302
    proposal = staged(rnd)
    admitted = [a for a in apps if proposal[a.id] == "admit"]
    assert len(admitted) == 24
    assert sum(1 for a in admitted if a.state == "DE-BY") <= 14
    assert sum(1 for a in admitted if a.organisation == "Stadt Augsburg") <= 2
    # The ranking page shows them in order of the mean score.
    html = organizers[1].get(url).get_data(as_text=True)
    means = [
        float(m) for m in re.findall(r'<td class="num">(\d\.\d\d)</td>\s*<td class="num">2', html)
    ]
    assert len(means) == 60 and means == sorted(means, reverse=True)
    # Another organizer adjusts: the first admitted is rejected instead.
    first = admitted[0]
    organizers[2].post(url + "/stage", data={"application_id": str(first.id), "decision": "reject"})
    assert organizers[1].post(url, data={"action": "release"}).status_code == 302
    db.session.commit()
    db.session.expire_all()
    final = {a.id: db.session.get(Application, a.id) for a in apps}
    offered = [a for a in final.values() if a.status == "offered"]
    assert len(offered) == 23  # the rejected one's seat stays free for a decision by hand
    assert final[first.id].status == "rejected"
    assert sum(1 for a in offered if a.state == "DE-BY") <= 14
    assert sum(1 for a in offered if a.organisation == "Stadt Augsburg") <= 2
    assert sum(1 for a in final.values() if a.status == "waitlisted") == 36
    work()
    assert len(smtp.messages) == 60
    assert all(len(smtp.to(a.email)) == 1 for a in apps)
