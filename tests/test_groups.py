"""Groups within a round (issue 13) through the organizer pages: proposal, creating, assigning
by hand, deleting; the group on the participant's status page; the recipients of one group
(for a message to that group)."""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import func, select

from forum.extensions import db
from registration import admission
from registration.groups import group_recipients
from registration.models import Application, GroupMember, RoundGroup
from tests.helpers.participants import accept, status_path


def _seat_holders(make_round, make_application, write):
    rnd = make_round(seats=10)
    people = []
    for n, (state, role) in enumerate(
        [
            ("DE-BY", "mayor"),
            ("DE-BY", "mayor"),
            ("DE-BY", "deputy"),
            ("DE-BW", "deputy"),
            ("DE-BW", "mayor"),
            ("DE-BW", "head_of_office"),
        ]
    ):
        people.append(
            make_application(rnd, state=state, role=role, first_name=f"Person{n}", last_name="X")
        )
    for person in people[:5]:
        accept(write, person)
    write(admission.decide, db.session.get(Application, people[5].id), "admit")  # offered
    waiting = make_application(rnd, first_name="Noch", last_name="Offen")  # submitted only
    return rnd, people, waiting


def test_proposal_through_the_page_spreads_evenly(
    client, login, make_round, make_application, write
):
    rnd, people, waiting = _seat_holders(make_round, make_application, write)
    organizer = login()
    assert organizer.get(f"/admin/rounds/{rnd.slug}/groups").status_code == 200
    response = organizer.post(f"/admin/rounds/{rnd.slug}/groups/propose", data={"size": "3"})
    assert response.status_code == 302
    groups = db.session.scalars(select(RoundGroup).order_by(RoundGroup.id)).all()
    assert [g.name for g in groups] == ["Gruppe 1", "Gruppe 2"]
    for group in groups:
        members = [db.session.get(Application, m.application_id) for m in group.members]
        assert len(members) == 3
    # three from each state, mixed: one group 2 + 1, the other 1 + 2
    mixes = sorted(
        Counter(db.session.get(Application, m.application_id).state for m in g.members)["DE-BY"]
        for g in groups
    )
    assert mixes == [1, 2]
    assigned = {m.application_id for g in groups for m in g.members}
    assert assigned == {p.id for p in people} and waiting.id not in assigned

    # The recipients of one group, for a message to that group.
    recipients = group_recipients(groups[0].id)
    assert {a.id for a in recipients} == {m.application_id for m in groups[0].members}

    # Someone who gives up their seat leaves the group's list and its recipients.
    write(admission.withdraw, db.session.get(Application, people[0].id))
    page = organizer.get(f"/admin/rounds/{rnd.slug}/groups").get_data(as_text=True)
    assert sum(int(n) for n in re.findall(r'data-members="(\d+)"', page)) == 5
    assert people[0].id not in {a.id for g in groups for a in group_recipients(g.id)}
    write(admission.decide, db.session.get(Application, waiting.id), "admit")
    people[0] = waiting

    # Proposing again replaces the assignment, creates no further groups.
    organizer.post(f"/admin/rounds/{rnd.slug}/groups/propose", data={"size": "6"})
    assert db.session.scalar(select(func.count()).select_from(RoundGroup)) == 2
    assert db.session.scalar(select(func.count()).select_from(GroupMember)) == 6

    bad = organizer.post(f"/admin/rounds/{rnd.slug}/groups/propose", data={"size": "0"})
    assert bad.status_code == 422
    assert "Bitte eine Zahl von 1 bis 1000." in bad.get_data(as_text=True)


def test_groups_by_hand(client, login, make_round, make_application, write):
    rnd, people, waiting = _seat_holders(make_round, make_application, write)
    organizer = login()
    url = f"/admin/rounds/{rnd.slug}/groups"
    assert organizer.post(url, data={"name": "Fokusgruppe Verwaltung"}).status_code == 302
    again = organizer.post(url, data={"name": " fokusgruppe  verwaltung "})
    assert again.status_code == 422
    assert "gibt es schon" in again.get_data(as_text=True)
    assert organizer.post(url, data={"name": ""}).status_code == 422
    group = db.session.scalar(select(RoundGroup))

    response = organizer.post(
        url + "/assign", data={f"group-{people[0].id}": str(group.id), f"group-{people[5].id}": ""}
    )
    assert response.status_code == 302
    assert [m.application_id for m in db.session.scalar(select(RoundGroup)).members] == [
        people[0].id
    ]
    page = organizer.get(url).get_data(as_text=True)
    assert f'<option value="{group.id}" selected>' in page

    # Not a seat holder, a group of nothing, a broken value: refused, nothing changes.
    for data in (
        {f"group-{waiting.id}": str(group.id)},
        {f"group-{people[1].id}": "999999"},
        {f"group-{people[1].id}": "abc"},
        {"group-x": str(group.id)},
    ):
        assert organizer.post(url + "/assign", data=data).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(GroupMember)) == 1

    # The participant sees their group and the groups of the others who consented.
    db.session.get(Application, people[1].id).share_contact = True
    db.session.commit()
    organizer.post(url + "/assign", data={f"group-{people[1].id}": str(group.id)})
    own = client.get(status_path(people[0])).get_data(as_text=True)
    assert "Ihre Gruppe: Fokusgruppe Verwaltung" in own
    assert "Person1 X</strong>" in own and "· Fokusgruppe Verwaltung" in own

    assert organizer.post(f"{url}/{group.id}/delete").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(GroupMember)) == 0
    assert organizer.post(f"{url}/{group.id}/delete").status_code == 404


def test_other_forums_groups_are_404(client, login, make_round):
    from forum.models import Forum

    rnd = make_round()
    other = Forum(slug="anderes", title="Anderes")
    db.session.add(other)
    db.session.commit()
    organizer = login(admin=False, forums=[other])
    assert organizer.get(f"/admin/rounds/{rnd.slug}/groups").status_code == 404
    assert organizer.post(f"/admin/rounds/{rnd.slug}/groups", data={"name": "x"}).status_code == 404
