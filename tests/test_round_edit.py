"""Organizer pages for forums, rounds and meetings (issue 8, part 6): fields named as the forum
file's keys, the loader's validation and rules (one place), errors next to their fields, times
in Europe/Berlin, copying a round as the next one. Through HTTP with the real SMTP server."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from forum.extensions import db
from forum.models import AuditEntry, Forum, Meeting, OutboxMessage, Round
from registration.models import Application
from tests.helpers.forum_files import MEETINGS_FILE, load


class FormParser(HTMLParser):
    """The values a browser would post from the page's round form."""

    def __init__(self):
        super().__init__()
        self.data: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._select: str | None = None
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("method") == "post":
            self._in_form = True
        if not self._in_form:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.data.append((a["name"], a.get("value", "y")))
            else:
                self.data.append((a["name"], a.get("value", "") or ""))
        elif tag == "textarea":
            self._textarea = a["name"]
            self.data.append((a["name"], ""))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.data.append((self._select, a["value"]))

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            name, value = self.data[-1]
            self.data[-1] = (name, value + data)


def page_form(html: str) -> dict[str, list[str]]:
    parser = FormParser()
    parser.feed(html)
    out: dict[str, list[str]] = {}
    for name, value in parser.data:
        out.setdefault(name, []).append(value)
    return out


def post_data(form: dict[str, list[str]], **changes) -> MultiDict:
    """The page's values with some changed (``meetings__1__venue`` for ``meetings-1-venue``)."""
    merged = dict(form)
    for key, value in changes.items():
        merged[key.replace("__", "-")] = [value] if isinstance(value, str) else value
    return MultiDict([(k, v) for k, values in merged.items() for v in values])


def the_round(slug="mkw-2027") -> Round:
    db.session.commit()
    db.session.expire_all()
    return db.session.scalar(select(Round).where(Round.slug == slug))


def test_edit_page_shows_the_file_keys_in_berlin_time(runner, tmp_path, client, login):
    assert load(runner, tmp_path, MEETINGS_FILE).exit_code == 0
    login()
    html = client.get("/admin/rounds/mkw-2027/edit").get_data(as_text=True)
    form = page_form(html)
    assert form["seats"] == ["2"]
    assert form["opens"] == ["2026-11-01T00:00"]  # +01:00 in the file, shown as in Berlin
    assert form["closes"] == ["2027-01-31T23:59"]
    assert form["states"] == ["DE-BW", "DE-BY"]  # checked boxes, in the order of the codes
    assert form["reminder_days"] == ["7, 1"]
    assert form["meetings-1-venue"] == ["Nürnberg"] and form["meetings-1-key"] == ["m1"]
    assert form["meetings-2-starts"] == ["2027-05-05T10:00"]  # summer time, +02:00
    assert form["meetings-3-title"] == [""]  # an empty row for a new meeting
    assert 'for="auto_promote"' in html and 'id="max_per_state"' in html


def test_saving_the_page_unchanged_changes_nothing(runner, tmp_path, client, login, holders):  # noqa: F811
    login()
    before = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    form = page_form(client.get("/admin/rounds/mkw-2027/edit").get_data(as_text=True))
    response = client.post("/admin/rounds/mkw-2027/edit", data=post_data(form))
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == before
    assert all(m.sequence == 0 for m in the_round().meetings)
    # And the forum file still loads without a change.
    exported = runner.invoke(args=["forum", "export", "mkw"]).output
    assert "unchanged: round mkw-2027" in load(runner, tmp_path, exported, "again.toml").output


def test_page_moves_a_meeting_and_adds_seats(client, login, holders, smtp, work):  # noqa: F811
    work()
    smtp.sink.clear()
    login()
    form = page_form(client.get("/admin/rounds/mkw-2027/edit").get_data(as_text=True))
    data = post_data(
        form,
        seats="3",
        meetings__1__venue="Erlangen",
        meetings__3__title="3. Arbeitstreffen",
        meetings__3__starts="2027-06-30T09:30",
        meetings__3__ends="2027-06-30T17:00",
        meetings__3__venue="Bamberg",
    )
    response = client.post("/admin/rounds/mkw-2027/edit", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    rnd = the_round()
    assert rnd.seats == 3
    meetings = {m.key: m for m in rnd.meetings}
    assert meetings["m1"].venue == "Erlangen" and meetings["m1"].sequence == 1
    assert meetings["m3"].starts.isoformat() == "2027-06-30T07:30:00+00:00"  # 09:30 in Berlin
    assert db.session.get(Application, holders["waitlisted"].id).status == "offered"
    work()
    (moved,) = [m for m in smtp.to(holders["accepted"].email) if "Geändert" in m["Subject"]]
    assert "Erlangen" in moved.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        ({"seats": "1"}, "seats", "2 Plätze sind vergeben (angeboten oder angenommen)"),
        ({"seats": "viele"}, "seats", "erwartet eine ganze Zahl, nicht &#39;viele&#39;"),
        ({"closes": "2026-10-01T00:00"}, "closes", "muss nach opens liegen"),
        ({"opens": "morgen"}, "opens", "erwartet Datum und Uhrzeit, z. B. 2027-03-10T10:00"),
        ({"states": []}, "states", "erwartet eine nicht leere Liste von Codes"),
        (
            {"states": ["DE-BY", "DE-XX"]},
            "states",
            "unbekannter Code &#39;DE-XX&#39;; erlaubt: DE-BW",
        ),
        ({"max_per_state": "1"}, "max_per_state", "ein Land hält schon 2 Plätze"),
        ({"reminder_days": "7, sieben"}, "reminder_days", "erwartet ganze Zahlen von Tagen"),
        ({"meetings__2__ends": "2027-05-01T10:00"}, "meetings-2-ends", "muss nach starts liegen"),
        ({"meetings__1__venue": ""}, "meetings-1-venue", "nicht angegeben"),
        ({"title": "x" * 201}, "title", "länger als 200 Zeichen"),
    ],
)
def test_bad_values_are_shown_at_their_field(client, login, holders, change, field, expected):  # noqa: F811
    login()
    before = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    form = page_form(client.get("/admin/rounds/mkw-2027/edit").get_data(as_text=True))
    response = client.post(
        "/admin/rounds/mkw-2027/edit",
        data=post_data(form, **{"meetings__1__venue": "Anderswo", **change}),
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = html.split(f'id="{field}-error">')[1].split("</p>")[0]
    assert expected in error
    assert f'aria-describedby="{field}-error"' in html
    rnd = the_round()
    assert rnd.seats == 2 and {m.venue for m in rnd.meetings} == {"Nürnberg", "Ulm"}
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == before


def _errors(html: str) -> dict[str, str]:
    """Each field's error on the page, by field name."""
    return {
        part.split('-error">')[0]: part.split('-error">')[1].split("</p>")[0]
        for part in html.split('<p class="field-error" id="')[1:]
    }


def test_every_bad_value_is_shown_at_once_in_the_pages_language(client, login, holders):  # noqa: F811
    """Not only the first: each bad value at its field and in the summary, in German, and in
    English after switching; nothing changes."""
    login()
    form = page_form(client.get("/admin/rounds/mkw-2027/edit").get_data(as_text=True))
    bad = {
        "title": "x" * 201,
        "seats": "0",
        "states": ["DE-XX"],
        "reminder_days": "7, sieben",
        "meetings__1__venue": "",
        "meetings__2__title": "\x07",
    }
    response = client.post("/admin/rounds/mkw-2027/edit", data=post_data(form, **bad))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert _errors(html) == {
        "title": "länger als 200 Zeichen",
        "seats": "muss mindestens 1 sein",
        "states": "unbekannter Code &#39;DE-XX&#39;; erlaubt: DE-BW, DE-BY, DE-BE, DE-BB, DE-HB, "
        "DE-HH, DE-HE, DE-MV, DE-NI, DE-NW, DE-RP, DE-SL, DE-SN, DE-ST, DE-SH, DE-TH",
        "reminder_days": "erwartet ganze Zahlen von Tagen, z. B. 7, 1",
        "meetings-1-venue": "nicht angegeben",
        "meetings-2-title": "enthält ein Steuerzeichen",
    }
    summary = html.split('id="error-summary"')[1].split("</div>")[0]
    assert summary.count("<li>") == 6 and "seats: muss mindestens 1 sein" in summary

    english = client.post("/admin/rounds/mkw-2027/edit?lang=en", data=post_data(form, **bad))
    assert english.status_code == 400
    errors = _errors(english.get_data(as_text=True))
    assert errors["title"] == "longer than 200 characters"
    assert errors["seats"] == "must be at least 1"
    assert errors["reminder_days"] == "expected whole numbers of days, e.g. 7, 1"
    assert errors["meetings-1-venue"] == "missing"
    assert errors["meetings-2-title"] == "contains a control character"
    rnd = the_round()
    assert rnd.seats == 2 and rnd.title != "x" * 201


def test_the_command_line_keeps_its_english_errors(runner, tmp_path):
    """``flask forum load`` is English by design (README): the same reasons, in English, also
    though the service's default language is German."""
    bad = MEETINGS_FILE.replace("seats = 2", "seats = 0")
    assert bad != MEETINGS_FILE
    result = load(runner, tmp_path, bad)
    assert result.exit_code == 1
    assert "seats: must be at least 1 (nothing was changed)" in result.output


def test_copy_as_next_round(runner, tmp_path, client, login):
    assert load(runner, tmp_path, MEETINGS_FILE).exit_code == 0
    login()
    html = client.get("/admin/forums/mkw/rounds/new?copy=mkw-2027&weeks=52").get_data(as_text=True)
    form = page_form(html)
    assert form["slug"] == [""] and form["title"] == [""]
    assert form["opens"] == ["2027-10-31T00:00"]
    assert form["meetings-1-starts"] == ["2028-03-08T10:00"] and form["meetings-1-key"] == ["m1"]
    missing = client.post("/admin/forums/mkw/rounds/new", data=post_data(form))
    assert missing.status_code == 400
    assert "nicht angegeben" in missing.get_data(as_text=True).split('id="slug-error">')[1]
    taken = client.post(
        "/admin/forums/mkw/rounds/new", data=post_data(form, slug="mkw-2027", title="Staffel 2028")
    )
    assert "gehört schon einer anderen Runde" in taken.get_data(as_text=True)
    assert the_round().title == "Staffel 2027"
    response = client.post(
        "/admin/forums/mkw/rounds/new", data=post_data(form, slug="mkw-2028", title="Staffel 2028")
    )
    assert response.status_code == 302
    new = the_round("mkw-2028")
    assert new.title == "Staffel 2028" and new.seats == 2
    assert sorted(new.states) == ["DE-BW", "DE-BY"]
    assert [m.venue for m in sorted(new.meetings, key=lambda m: m.starts)] == ["Nürnberg", "Ulm"]
    old_uids = {m.uid for m in the_round().meetings}
    assert old_uids.isdisjoint({m.uid for m in new.meetings})  # new meetings, new UIDs
    assert db.session.scalar(select(func.count()).select_from(Meeting)) == 4


def test_forums_by_admins_only(client, login, runner, tmp_path):
    assert load(runner, tmp_path, MEETINGS_FILE).exit_code == 0
    login(admin=True)
    response = client.post(
        "/admin/forums/new",
        data={"slug": "kgg", "title": "Kommune gemeinsam gestalten", "summary": "Seminar"},
    )
    assert response.status_code == 302
    bad = client.post("/admin/forums/new", data={"slug": "Kein Slug", "title": "x"})
    assert bad.status_code == 400
    assert "nur Kleinbuchstaben, Ziffern und einzelne Bindestriche" in bad.get_data(as_text=True)
    edit = client.post(
        "/admin/forums/mkw/edit", data={"title": "Meine Kommune weiterdenken!", "summary": ""}
    )
    assert edit.status_code == 302
    db.session.commit()
    assert sorted(db.session.scalars(select(Forum.slug)).all()) == ["kgg", "mkw"]
    assert db.session.scalar(select(Forum.title).where(Forum.slug == "mkw")).endswith("!")
    client.post("/admin/logout")
    login(email="orga2@forum.example.org", admin=False, forums=[])
    assert client.get("/admin/forums/new").status_code == 403
    assert client.get("/admin/rounds/mkw-2027/edit").status_code == 404
    assert client.get("/admin/forums/mkw/rounds/new").status_code == 404


def test_selection_and_invitation_keys_on_the_page(client, login, holders):  # noqa: F811
    """Keys that the selection and formats add to the forum file are edited on the same page,
    through the same validation (review criteria one a line)."""
    login()
    form = page_form(client.get("/admin/rounds/mkw-2027/edit").get_data(as_text=True))
    assert form["review_criteria"] == [""] and form["reviewers_per_application"] == ["2"]
    response = client.post(
        "/admin/rounds/mkw-2027/edit",
        data=post_data(
            form,
            review_criteria="Motivation\r\n\r\n  Passung zur Gruppe  \r\n",
            reviewers_per_application="3",
            blind_review="y",
            invitation_reminder_days="5",
        ),
    )
    assert response.status_code == 302
    rnd = the_round()
    assert rnd.review_criteria == ["Motivation", "Passung zur Gruppe"]
    assert (rnd.reviewers_per_application, rnd.blind_review) == (3, True)
    assert rnd.invitation_reminder_days == 5
    # Who changed the round is in the audit log.
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "round_changed"))
    assert entry is not None and entry.target == "round mkw-2027"
    html = client.get("/admin/rounds/mkw-2027/edit").get_data(as_text=True)
    assert page_form(html)["review_criteria"] == ["Motivation\nPassung zur Gruppe"]

    twice = client.post(
        "/admin/rounds/mkw-2027/edit",
        data=post_data(page_form(html), review_criteria="Motivation\nmotivation"),
    )
    assert twice.status_code == 400
    assert "nennt einen Namen zweimal" in twice.get_data(as_text=True)
    assert the_round().review_criteria == ["Motivation", "Passung zur Gruppe"]
