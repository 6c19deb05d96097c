"""Review through HTTP (issue 9): two reviewers, hidden scores until one's own review, the
queue, conflicts of interest, blind review, tags and internal notes, the dashboard's and the
CSV's review figures, bad input."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from registration.models import Application, ApplicationEvent
from registration.selection.models import ApplicationNote, ApplicationTag, Review
from registration.tokens import Purpose, make_token

CRITERIA = ["Motivation", "Passung zur Gruppe", "Herausforderung"]


@pytest.fixture
def two(app, client, login):
    """Two organizers of the forum, each with their own browser session."""

    def do(rnd):
        a = login("anna@forum.example.org", admin=False, forums=[rnd.forum])
        b = login(
            "bert@forum.example.org", admin=False, forums=[rnd.forum], as_client=app.test_client()
        )
        return a, b

    return do


def review(c, application, scores=(), note="", conflict=False):
    data = {f"score-{n}": str(s) for n, s in enumerate(scores, start=1)}
    data["note"] = note
    if conflict:
        data["conflict"] = "y"
    return c.post(f"/admin/applications/{application.id}/review", data=data)


def queue_ids(c, rnd) -> list[int]:
    html = c.get(f"/admin/rounds/{rnd.slug}/review").get_data(as_text=True)
    return [int(n) for n in re.findall(r'<tr data-id="(\d+)"', html)]


def reviews_of(application) -> list[Review]:
    db.session.commit()
    db.session.expire_all()
    return list(db.session.scalars(select(Review).where(Review.application_id == application.id)))


def test_two_reviewers_queue_and_hidden_scores(make_round, make_application, two):
    rnd = make_round(review_criteria=CRITERIA)
    first, second, third = (make_application(rnd) for _ in range(3))
    anna, bert = two(rnd)

    # Everything is in both queues, fewest reviews first (then oldest).
    assert queue_ids(anna, rnd) == [first.id, second.id, third.id]
    page = anna.get(f"/admin/applications/{first.id}/review").get_data(as_text=True)
    for n, name in enumerate(CRITERIA, start=1):
        assert f'name="score-{n}"' in page and name in page
    response = review(anna, first, (5, 4, 3), note="Sehr überzeugend")
    assert response.status_code == 302
    assert [r.scores for r in reviews_of(first)] == [[5, 4, 3]]
    assert reviews_of(first)[0].score == pytest.approx(4.0)

    # Anna's queue lost it; Bert's has it last now (one review already).
    assert queue_ids(anna, rnd) == [second.id, third.id]
    assert queue_ids(bert, rnd) == [second.id, third.id, first.id]

    # Bert does not see Anna's scores (nor her private note) before his own review ...
    before = bert.get(f"/admin/applications/{first.id}/review").get_data(as_text=True)
    assert "anna@forum.example.org" not in before and 'class="other-review"' not in before
    assert "sobald Sie Ihre eigene abgegeben haben" in before
    # ... and does after it; Anna's note stays hers.
    assert review(bert, first, (2, 2, 2)).status_code == 302
    after = bert.get(f"/admin/applications/{first.id}/review").get_data(as_text=True)
    assert after.count('class="other-review"') == 1 and "anna@forum.example.org" in after
    assert "Sehr überzeugend" not in after
    assert "Sehr überzeugend" in anna.get(f"/admin/applications/{first.id}/review").text

    # A second review by the same person replaces the first.
    assert review(bert, first, (3, 3, 3)).status_code == 302
    assert sorted(r.score for r in reviews_of(first)) == [3.0, 4.0]

    # The history names the reviewers, not the scores.
    reasons = [
        (e.actor_label, e.reason)
        for e in db.session.scalars(
            select(ApplicationEvent).where(ApplicationEvent.application_id == first.id)
        )
    ]
    assert ("anna@forum.example.org", "Bewertung abgegeben") in reasons
    assert ("bert@forum.example.org", "Bewertung geändert") in reasons


def test_conflict_removes_from_queue_and_scores(make_round, make_application, two, client):
    rnd = make_round(review_criteria=["Gesamt"])
    application = make_application(rnd)
    anna, bert = two(rnd)
    assert review(anna, application, (4,)).status_code == 302
    assert review(bert, application, (1,)).status_code == 302
    # Bert discovers a conflict of interest: his score goes, the application leaves his queue.
    response = review(bert, application, (1,), conflict=True)
    assert response.status_code == 302 and response.headers["Location"].endswith("/review")
    mine = [r for r in reviews_of(application) if r.conflict]
    assert len(mine) == 1 and mine[0].scores == [] and mine[0].score is None
    assert application.id not in queue_ids(bert, rnd)
    page = bert.get(f"/admin/applications/{application.id}/review").get_data(as_text=True)
    assert "Befangenheit erklärt" in page and 'class="other-review"' not in page
    # The figures count Anna's review only.
    html = anna.get(f"/admin/rounds/{rnd.slug}/selection").get_data(as_text=True)
    row = re.search(rf'<tr id="row-{application.id}".*?</tr>', html, re.S)[0]
    assert "4.00" in row and "1.00" not in row


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"score-1": "7", "score-2": "3"}, "Bitte vergeben Sie 1 bis 5 Punkte."),
        ({"score-1": "3"}, "Bitte vergeben Sie 1 bis 5 Punkte."),
        ({"score-1": "x", "score-2": "3"}, "Bitte vergeben Sie 1 bis 5 Punkte."),
        ({"score-1": "3", "score-2": "3", "note": "x" * 4001}, "4000"),
    ],
)
def test_bad_review_input_is_refused_and_changes_nothing(
    client, login, make_round, make_application, data, message
):
    rnd = make_round(review_criteria=["A", "B"])
    application = make_application(rnd)
    login(forums=[rnd.forum])
    response = client.post(f"/admin/applications/{application.id}/review", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert reviews_of(application) == []


def test_decided_applications_and_other_forums_cannot_be_reviewed(
    client, login, make_round, make_application, make_organizer, app
):
    rnd = make_round(review_criteria=["A"])
    application = make_application(rnd)
    login(forums=[rnd.forum])
    client.post(f"/admin/applications/{application.id}/decision", data={"action": "reject"})
    response = client.post(f"/admin/applications/{application.id}/review", data={"score-1": "5"})
    assert response.status_code == 409
    assert reviews_of(application) == []
    # An organizer of another forum gets 404 everywhere.
    from forum.models import Forum

    other = Forum(slug="anderes", title="Anderes")
    db.session.add(other)
    db.session.commit()
    stranger = app.test_client()
    make_organizer(email="fremd@forum.example.org", forums=[other])
    stranger.post(
        "/admin/login",
        data={"email": "fremd@forum.example.org", "password": "richtig-langes-passwort"},
    )
    for path in (
        f"/admin/rounds/{rnd.slug}/review",
        f"/admin/applications/{application.id}/review",
        f"/admin/rounds/{rnd.slug}/selection",
    ):
        assert stranger.get(path).status_code == 404


def test_blind_round_hides_who_applied_until_decisions_are_staged(
    client, login, make_round, make_application
):
    rnd = make_round(review_criteria=["Motivation"], blind_review=True)
    application = make_application(
        rnd,
        first_name="Hiltrud",
        last_name="Zwetschgenmaier",
        email="h.zwetschgenmaier@markt-gruenwinkel.de",
        phone="+49 8031 55555",
        organisation="Markt Grünwinkel",
        motivation="Als Bürgermeisterin von Grünwinkel (Hiltrud Zwetschgenmaier) möchte ich "
        "lernen.",
        challenge="Der Grünwinkeler Marktplatz; Fragen an h.zwetschgenmaier@markt-gruenwinkel.de",
    )
    login(forums=[rnd.forum])
    secrets = ["Hiltrud", "Zwetschgenmaier", "zwetschgenmaier", "Grünwinkel", "gruenwinkel", "8031"]
    pages = [
        client.get(f"/admin/rounds/{rnd.slug}/review").get_data(as_text=True),
        client.get(f"/admin/applications/{application.id}/review").get_data(as_text=True),
        client.get(f"/admin/rounds/{rnd.slug}/selection").get_data(as_text=True),
    ]
    for html in pages:
        assert f"Bewerbung Nr. {application.id}" in html  # the number instead of the name
        for secret in secrets:
            assert secret not in html, secret
    form = pages[1]
    assert "möchte ich lernen" in form and "Marktplatz" in form  # the rest of the text stays
    assert "[…]" in form
    # The organizers' export still has everything.
    export = client.get(f"/admin/rounds/{rnd.slug}/applications.csv").get_data(as_text=True)
    assert "Zwetschgenmaier" in export and "Markt Grünwinkel" in export

    # Once a decision is staged, the review pages show the names again.
    response = client.post(
        f"/admin/rounds/{rnd.slug}/selection/stage",
        data={"application_id": str(application.id), "decision": "admit"},
    )
    assert response.status_code == 302
    html = client.get(f"/admin/applications/{application.id}/review").get_data(as_text=True)
    assert "Hiltrud Zwetschgenmaier" in html and "Markt Grünwinkel" in html


def test_tags_and_internal_notes(client, login, make_round, make_application, smtp, work, app):
    rnd = make_round()
    application = make_application(rnd, email="tina@gemeinde.de")
    login(forums=[rnd.forum])
    url = f"/admin/applications/{application.id}"
    assert client.post(url + "/tags", data={"tag": "Kandidat*in Nord"}).status_code == 302
    assert client.post(url + "/tags", data={"tag": "kandidat*in nord"}).status_code == 302
    assert client.post(url + "/tags", data={"tag": ""}).status_code == 302
    assert client.post(url + "/tags", data={"tag": "x" * 41}).status_code == 302
    assert client.post(url + "/notes", data={"text": "Hat 2025 abgesagt."}).status_code == 302
    assert client.post(url + "/notes", data={"text": "   "}).status_code == 302
    db.session.commit()
    assert db.session.scalars(select(ApplicationTag.tag)).all() == ["Kandidat*in Nord"]
    assert db.session.scalars(select(ApplicationNote.text)).all() == ["Hat 2025 abgesagt."]
    html = client.get(url).get_data(as_text=True)
    assert "Kandidat*in Nord" in html and "Hat 2025 abgesagt." in html
    assert "Interne Notiz hinzugefügt" in html  # in the history, without the text
    # Removing a tag; removing one that is not there changes nothing.
    assert client.post(url + "/tags/remove", data={"tag": "Kandidat*in Nord"}).status_code == 302
    assert client.post(url + "/tags/remove", data={"tag": "gibt es nicht"}).status_code == 302
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(ApplicationTag)) == 0
    client.post(url + "/tags", data={"tag": "Favorit"})

    # Never to the applicant: not on the status page, not in the mails.
    applicant = app.test_client()
    status = applicant.get(f"/status/{make_token(Purpose.STATUS, application.public_id)}")
    assert status.status_code == 200
    assert "Favorit" not in status.text and "abgesagt" not in status.text
    client.post(url + "/decision", data={"action": "admit"})
    work()
    mails = smtp.to("tina@gemeinde.de")
    assert mails
    for mail in mails:
        assert "Favorit" not in mail.as_string() and "2025 abgesagt" not in mail.as_string()

    # In the privacy export.
    export = json.loads(client.get("/admin/privacy/export.json?email=tina@gemeinde.de").data)
    notes = export["data"]["application_notes"]
    assert notes[0]["tags"] == ["Favorit"]
    assert notes[0]["notes"][0]["text"] == "Hat 2025 abgesagt."


def test_erasure_removes_tags_and_notes(client, login, make_round, make_application, runner):
    rnd = make_round()
    application = make_application(rnd, email="eva@gemeinde.de")
    login(forums=[rnd.forum])
    client.post(f"/admin/applications/{application.id}/tags", data={"tag": "Favorit"})
    client.post(f"/admin/applications/{application.id}/notes", data={"text": "Notiz"})
    result = runner.invoke(args=["privacy", "erase", "eva@gemeinde.de", "--reason", "Bitte"])
    assert result.exit_code == 0, result.output
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(ApplicationTag)) == 0
    assert db.session.scalar(select(func.count()).select_from(ApplicationNote)) == 0


def test_dashboard_and_csv_have_the_review_figures(client, login, make_round, make_application):
    rnd = make_round(review_criteria=["A"])
    low, high, none = (make_application(rnd) for _ in range(3))
    login(forums=[rnd.forum])
    review(client, low, (2,))
    review(client, high, (5,))
    client.post(
        f"/admin/rounds/{rnd.slug}/selection/stage",
        data={"application_id": str(high.id), "decision": "admit"},
    )
    html = client.get(f"/admin/rounds/{rnd.slug}?sort=-score_mean").get_data(as_text=True)
    ids = [int(n) for n in re.findall(r'<tr data-id="(\d+)"', html)]
    assert ids == [high.id, low.id, none.id]
    assert 'data-score="5.0"' in html and 'data-staged="admit"' in html
    html = client.get(f"/admin/rounds/{rnd.slug}?sort=score_mean").get_data(as_text=True)
    assert [int(n) for n in re.findall(r'<tr data-id="(\d+)"', html)] == [low.id, high.id, none.id]
    # An unknown sort is ignored, not an error.
    assert client.get(f"/admin/rounds/{rnd.slug}?sort=drop+table").status_code == 200

    raw = client.get(f"/admin/rounds/{rnd.slug}/applications.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(raw.lstrip("\ufeff"))))
    by_id = {int(r["id"]): r for r in rows}
    assert by_id[high.id]["score_mean"] == "5.00" and by_id[high.id]["reviews"] == "1"
    assert by_id[high.id]["staged"] == "admit" and by_id[high.id]["spread"] == "0.00"
    assert by_id[none.id]["score_mean"] == "" and by_id[none.id]["reviews"] == "0"
    assert db.session.scalar(select(Application.status).where(Application.id == high.id)) == (
        "submitted"
    )


def test_retention_removes_tags_notes_and_reviewers_notes(
    client, login, make_round, make_application, runner
):
    from datetime import timedelta

    from forum.db import utcnow

    now = utcnow()
    rnd = make_round(opens=now - timedelta(days=800), closes=now - timedelta(days=700))
    rnd.meetings[0].starts = now - timedelta(days=600)
    rnd.meetings[0].ends = now - timedelta(days=599)
    db.session.commit()
    application = make_application(rnd)
    login(forums=[rnd.forum])
    client.post(f"/admin/applications/{application.id}/tags", data={"tag": "Favorit"})
    client.post(f"/admin/applications/{application.id}/notes", data={"text": "Kennt Herrn X"})
    review(client, application, (4,), note="persönlich bekannt")
    result = runner.invoke(args=["maintenance", "run"])
    assert result.exit_code == 0, result.output
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(ApplicationTag)) == 0
    assert db.session.scalar(select(func.count()).select_from(ApplicationNote)) == 0
    (kept,) = reviews_of(application)
    assert kept.note == "" and kept.scores == [4]
