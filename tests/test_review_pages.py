"""The organizers' pages through HTTP: dashboard, application page, decisions, bulk decisions,
revocation, moving on the waitlist, CSV export, access control between forums, CSRF."""

from __future__ import annotations

import csv
import io
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from forum.extensions import db
from forum.models import Forum, Organizer
from registration.models import Application

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def reload(application: Application) -> Application:
    db.session.commit()  # a new transaction sees what other connections committed
    db.session.expire_all()
    return db.session.get(Application, application.id)


def flashes(html: str) -> str:
    return " ".join(re.findall(r'<div class="notice[^"]*" role="status">(.*?)</div>', html, re.S))


@contextmanager
def count_queries():
    counter = {"n": 0}

    def before(*_args, **_kwargs):
        counter["n"] += 1

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


# --- dashboard ---


def test_dashboard_shows_seats_counts_and_charts(client, login, make_round, make_application):
    rnd = make_round(seats=5, max_per_state=3)
    apps = [make_application(rnd, state="DE-BY", role="mayor") for _ in range(3)]
    apps.append(make_application(rnd, state="DE-BW", role="deputy"))
    apps.append(make_application(rnd, state="DE-BW", role="deputy"))
    login()
    for a in apps[:4]:
        client.post(f"/admin/applications/{a.id}/decision", data={"action": "admit"})
    page = client.get(f"/admin/rounds/{rnd.slug}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-held="4" data-seats="5"' in html
    assert "4 von 5 Plätzen belegt" in html
    assert '<svg class="seatbar"' in html
    assert html.count('<svg class="chart"') == 2
    assert 'data-count="offered:4"' in html and 'data-count="submitted:1"' in html
    # Held seats by state and role, as tables.
    assert re.search(
        r"<th scope=\"row\">Bayern</th><td class=\"num\">0</td><td class=\"num\">3", html
    )
    assert re.search(r"<th scope=\"row\">Beigeordnete\*r</th><td class=\"num\">0</td>", html)
    # No external assets, no inline scripts.
    assert "<script" not in html and "http://" not in html.replace("http://localhost", "")


def test_dashboard_lists_search_filters_and_pages(client, login, make_round, make_application):
    rnd = make_round(seats=100)
    for n in range(55):
        make_application(rnd, state="DE-BY" if n % 2 else "DE-BW")
    make_application(rnd, first_name="Zoë", last_name="Sonderfall", email="zoe@ort.de")
    make_application(rnd, organisation="Markt Oberstdorf", role="deputy", body_type="city")
    login()
    url = f"/admin/rounds/{rnd.slug}"

    first = client.get(url).get_data(as_text=True)
    assert "57 Bewerbungen gefunden" in first and "Seite 1 von 2" in first
    assert first.count("<tr data-id=") == 50
    second = client.get(url + "?page=2").get_data(as_text=True)
    assert second.count("<tr data-id=") == 7

    def ids(query: str) -> list[str]:
        response = client.get(url + query)
        assert response.status_code == 200
        return re.findall(r'<tr data-id="(\d+)"', response.get_data(as_text=True))

    assert len(ids("?q=sonderfall")) == 1  # last name, any case
    assert len(ids("?q=Zo%C3%AB+Sonderfall")) == 1  # full name
    assert len(ids("?q=zoe@ort")) == 1  # e-mail
    assert len(ids("?q=oberstdorf")) == 1  # organisation
    assert len(ids("?q=%25")) == 0  # LIKE wildcards are literal
    assert len(ids("?role=deputy")) == 1
    assert len(ids("?body_type=city")) == 1
    assert len(ids("?state=DE-BY")) == 29
    assert len(ids("?status=submitted&state=DE-BW&page=1")) == 28
    # Nonsense in the query string: the unfiltered list, never an error.
    assert len(ids("?status=bogus&state=XX&page=-3")) == 50
    assert len(ids("?page=abc")) == 50
    assert client.get(url + "?q=%00").status_code == 400  # NUL: refused at the edge
    assert len(ids("?page=999")) == 7  # clamped to the last page


def test_dashboard_query_count_does_not_grow(client, login, make_round, make_application):
    small = make_round(seats=10)
    large = make_round(seats=10)
    for _ in range(3):
        make_application(small)
    for n in range(70):
        make_application(large, state="DE-BY" if n % 2 else "DE-BW")
    login()
    counts = {}
    for rnd in (small, large):
        client.get(f"/admin/rounds/{rnd.slug}")  # warm up
        with count_queries() as counter:
            assert client.get(f"/admin/rounds/{rnd.slug}").status_code == 200
        counts[rnd.slug] = counter["n"]
    assert counts[small.slug] == counts[large.slug], counts
    # A constant number: the lists, the seat counts, and one or two each for the sections of
    # selection, invitations, bounced addresses and attendance.
    assert counts[large.slug] <= 18


def test_unknown_round_and_application_are_404(client, login):
    login()
    assert client.get("/admin/rounds/gibt-es-nicht").status_code == 404
    assert client.get("/admin/applications/999999").status_code == 404
    assert client.get("/admin/applications/abc").status_code == 404
    assert client.get("/admin/applications/99999999999").status_code == 404  # > INTEGER
    assert client.get("/admin/organizers/99999999999").status_code == 404
    response = client.post("/admin/applications/999999/decision", data={"action": "admit"})
    assert response.status_code == 404


def test_login_required(client, make_round, make_application):
    rnd = make_round()
    application = make_application(rnd)
    for path in (
        f"/admin/rounds/{rnd.slug}",
        f"/admin/applications/{application.id}",
        f"/admin/rounds/{rnd.slug}/applications.csv",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    response = client.post(
        f"/admin/applications/{application.id}/decision", data={"action": "admit"}
    )
    assert response.status_code == 302
    assert reload(application).status == "submitted"


# --- the application page and decisions ---


def test_application_page_and_decision(client, login, make_round, make_application, smtp, work):
    rnd = make_round(seats=1)
    first = make_application(rnd, phone="+49 911 1234", department="treasury")
    second = make_application(rnd)
    login(email="chefin@forum.example.org")
    page = client.get(f"/admin/applications/{first.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for value in (first.email, "+49 911 1234", "Kämmerei", first.motivation, first.challenge):
        assert value in html
    assert re.search(r'<input id="action-0" name="action"[^>]*type="radio" value="admit">', html)

    response = client.post(
        f"/admin/applications/{first.id}/decision",
        data={"action": "admit", "message": "Willkommen im Forum!"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "wurde ein Platz angeboten" in flashes(response.get_data(as_text=True))
    assert reload(first).status == "offered"

    # The round is full: admit puts the second on the waitlist and says why.
    response = client.post(
        f"/admin/applications/{second.id}/decision",
        data={"action": "admit"},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "alle 1 Plätze sind vergeben" in flashes(html)
    assert "Platz 1 der Warteliste" in flashes(html)
    assert reload(second).status == "waitlisted"
    # The history: time, actor, transition, reason.
    history = html[html.index('id="history"') :]
    assert "Organisator*in (chefin@forum.example.org)" in history
    assert "eingegangen → Warteliste" in history
    assert "alle 1 Plätze sind vergeben" in history

    work()
    assert "Willkommen im Forum!" in smtp.to(first.email)[0].get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    "data",
    [{}, {"action": "promote"}, {"action": "admit", "message": "x" * 2001}, {"action": ""}],
    ids=["no-action", "unknown-action", "long-message", "empty-action"],
)
def test_bad_decisions_change_nothing(client, login, make_round, make_application, data):
    rnd = make_round()
    application = make_application(rnd)
    login()
    response = client.post(f"/admin/applications/{application.id}/decision", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="(action|message)-error"', html)
    assert reload(application).status == "submitted"
    assert len(reload(application).events) == 2


def test_nul_characters_never_reach_the_database(client, login, make_round, make_application):
    """No person types a NUL (PostgreSQL refuses it in text): a clear 400, nothing changed."""
    from tests.helpers import application_data

    rnd = make_round(seats=1)
    application = make_application(rnd)
    login()
    response = client.post(
        f"/admin/applications/{application.id}/decision",
        data={"action": "admit", "message": "Will\x00kommen"},
    )
    assert response.status_code == 400
    assert reload(application).status == "submitted"
    response = client.post(
        f"/rounds/{rnd.slug}/apply",
        data=application_data(email="nul@gemeinde.de", motivation="a\x00b", challenge="\x00c"),
    )
    assert response.status_code == 400
    from sqlalchemy import func, select

    from registration.models import Application

    assert db.session.scalar(select(func.count(Application.id))) == 1  # nothing stored


def test_refused_transition_is_explained(client, login, make_round, make_application):
    rnd = make_round()
    application = make_application(rnd)
    login()
    client.post(f"/admin/applications/{application.id}/decision", data={"action": "reject"})
    response = client.post(
        f"/admin/applications/{application.id}/decision",
        data={"action": "admit"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "lässt sich nicht zulassen" in flashes(response.get_data(as_text=True))
    assert reload(application).status == "rejected"


def test_bulk_decision(client, login, make_round, make_application):
    rnd = make_round(seats=2)
    other_round = make_round()
    apps = [make_application(rnd) for _ in range(4)]
    stranger = make_application(other_round)
    login()
    response = client.post(
        f"/admin/rounds/{rnd.slug}/decisions",
        data={"ids": [a.id for a in apps] + [stranger.id], "action": "admit"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    text = flashes(response.get_data(as_text=True))
    assert text.count("wurde ein Platz angeboten") == 2
    assert text.count("Platz 1 der Warteliste") == 1
    assert [reload(a).status for a in apps] == ["offered", "offered", "waitlisted", "waitlisted"]
    assert reload(stranger).status == "submitted"  # another round's id is ignored

    for data in (
        {"action": "admit"},
        {"ids": ["x"], "action": "admit"},
        {"ids": ["99999999999"], "action": "admit"},
        {"ids": [apps[0].id]},
    ):
        response = client.post(
            f"/admin/rounds/{rnd.slug}/decisions", data=data, follow_redirects=True
        )
        assert response.status_code == 200
        assert 'class="notice notice-error"' in response.get_data(as_text=True)


def test_revoke_and_move_through_http(client, login, make_round, make_application):
    rnd = make_round(seats=1)
    apps = [make_application(rnd) for _ in range(4)]
    login()
    for a in apps:
        client.post(f"/admin/applications/{a.id}/decision", data={"action": "admit"})
    # Move the last waitlisted entry to the front, with a reason.
    bad = client.post(f"/admin/applications/{apps[3].id}/move", data={"position": "abc"})
    assert bad.status_code == 422 and 'id="position-error"' in bad.get_data(as_text=True)
    bad = client.post(f"/admin/applications/{apps[3].id}/move", data={"position": "1"})
    assert bad.status_code == 422 and 'id="reason-error"' in bad.get_data(as_text=True)
    assert reload(apps[3]).waitlist_position == 3
    ok = client.post(
        f"/admin/applications/{apps[3].id}/move", data={"position": "1", "reason": "Landkreis"}
    )
    assert ok.status_code == 302
    assert [reload(a).waitlist_position for a in apps[1:]] == [2, 3, 1]

    # Revoke the seat: it goes to the (new) first on the waitlist.
    bad = client.post(f"/admin/applications/{apps[0].id}/revoke", data={"reason": ""})
    assert bad.status_code == 422
    assert reload(apps[0]).status == "offered"
    response = client.post(
        f"/admin/applications/{apps[0].id}/revoke",
        data={"reason": "Nicht mehr im Amt"},
        follow_redirects=True,
    )
    assert "Von der Warteliste nachgerückt:" in flashes(response.get_data(as_text=True))
    assert reload(apps[0]).status == "revoked"
    assert reload(apps[3]).status == "offered"
    assert [reload(a).waitlist_position for a in apps[1:3]] == [1, 2]
    # Revoking again is refused with a message.
    again = client.post(
        f"/admin/applications/{apps[0].id}/revoke", data={"reason": "x"}, follow_redirects=True
    )
    assert "Es wurde nichts geändert" in flashes(again.get_data(as_text=True))


# --- CSV ---


def test_csv_export(client, login, make_round, make_application):
    rnd = make_round()
    make_application(rnd, first_name="Jürgen", last_name="Öztürk-Weiß")
    make_application(
        rnd,
        first_name='=HYPERLINK("http://evil")',
        last_name="+SUM(1)",
        organisation="-2+3",
        email="@x@example.org",
        phone="\t=1",
        motivation="\r=cmd",
    )
    login()
    response = client.get(f"/admin/rounds/{rnd.slug}/applications.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header = rows[0]
    for column in (
        "id",
        "status",
        "first_name",
        "last_name",
        "email",
        "organisation",
        "body_type",
        "state",
        "role",
        "waitlist_position",
        "created_at",
    ):
        assert column in header
    assert len(rows) == 3
    first = dict(zip(header, rows[1], strict=True))
    assert first["first_name"] == "Jürgen" and first["last_name"] == "Öztürk-Weiß"
    assert first["status"] == "submitted"
    evil = dict(zip(header, rows[2], strict=True))
    assert evil["first_name"] == '\'=HYPERLINK("http://evil")'
    assert evil["last_name"] == "'+SUM(1)"
    assert evil["organisation"] == "'-2+3"
    assert evil["email"] == "'@x@example.org"
    assert evil["phone"] == "'\t=1"
    assert evil["motivation"] == "'\r=cmd"


# --- access control ---


def test_organizers_see_only_their_forums(client, login, make_round, make_application):
    mine = make_round()
    other_forum = Forum(slug="anderes-forum", title="Anderes Forum")
    db.session.add(other_forum)
    db.session.commit()
    theirs = make_round()
    theirs.forum = other_forum
    db.session.commit()
    my_app, their_app = make_application(mine), make_application(theirs)
    login(admin=False, forums=[mine.forum])

    home = client.get("/admin/").get_data(as_text=True)
    assert mine.title in home and theirs.title not in home
    assert client.get(f"/admin/rounds/{mine.slug}").status_code == 200
    assert client.get(f"/admin/applications/{my_app.id}").status_code == 200
    for path in (
        f"/admin/rounds/{theirs.slug}",
        f"/admin/rounds/{theirs.slug}/applications.csv",
        f"/admin/applications/{their_app.id}",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert their_app.email not in response.get_data(as_text=True)
    for path, data in (
        (f"/admin/applications/{their_app.id}/decision", {"action": "admit"}),
        (f"/admin/applications/{their_app.id}/revoke", {"reason": "x"}),
        (f"/admin/applications/{their_app.id}/move", {"position": "1", "reason": "x"}),
        (f"/admin/rounds/{theirs.slug}/decisions", {"ids": [their_app.id], "action": "admit"}),
    ):
        assert client.post(path, data=data).status_code == 404, path
    # A bulk decision on my round with their id in it leaves theirs alone.
    client.post(
        f"/admin/rounds/{mine.slug}/decisions", data={"ids": [their_app.id], "action": "reject"}
    )
    assert reload(their_app).status == "submitted"
    assert len(reload(their_app).events) == 2
    # Organizer management is for admins.
    assert client.get("/admin/organizers/").status_code == 403
    assert client.post("/admin/organizers/new", data={"email": "x@y.de"}).status_code == 403


# --- organizer management ---


def test_admin_manages_organizers(client, make_app, login, make_round):
    rnd = make_round()
    login(email="admin@forum.example.org", admin=True)
    forum_id = rnd.forum_id
    bad = client.post(
        "/admin/organizers/new",
        data={"email": "kein-mail", "password": "kurz", "forums": [str(forum_id)]},
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'id="email-error"' in html and 'id="password-error"' in html
    assert 'aria-describedby="password-hint password-error"' in html

    created = client.post(
        "/admin/organizers/new",
        data={
            "email": "Neu@Forum.Example.org",
            "name": "Neue Kollegin",
            "password": "ein-langes-passwort",
            "forums": [str(forum_id)],
        },
    )
    assert created.status_code == 302
    organizer = db.session.scalar(
        select(Organizer).where(Organizer.email == "neu@forum.example.org")
    )
    assert organizer is not None and not organizer.is_admin
    assert [f.id for f in organizer.forums] == [forum_id]
    duplicate = client.post(
        "/admin/organizers/new",
        data={"email": "neu@forum.example.org", "password": "ein-langes-passwort"},
    )
    assert duplicate.status_code == 422
    assert "bereits ein Konto" in duplicate.get_data(as_text=True)
    listing = client.get("/admin/organizers/").get_data(as_text=True)
    assert "neu@forum.example.org" in listing and "Testforum" in listing

    # The new organizer logs in (another browser) and sees the assigned forum. Another app
    # object: the test client of the ``app`` fixture shares one app context, and so ``g`` with
    # Flask-Login's cached user, between all its requests.
    other = make_app().test_client()
    login_page = other.post(
        "/admin/login", data={"email": "neu@forum.example.org", "password": "ein-langes-passwort"}
    )
    assert login_page.status_code == 302
    assert rnd.title in other.get("/admin/").get_data(as_text=True)

    # Unassign the forum: the round is gone for them.
    unassigned = client.post(f"/admin/organizers/{organizer.id}", data={"name": "Neue Kollegin"})
    assert unassigned.status_code == 302, unassigned.get_data(as_text=True)
    assert other.get(f"/admin/rounds/{rnd.slug}").status_code == 404

    # Disable: their session ends at once and they cannot log in.
    assert client.post(f"/admin/organizers/{organizer.id}/active").status_code == 302
    assert other.get("/admin/").status_code == 302
    again = other.post(
        "/admin/login", data={"email": "neu@forum.example.org", "password": "ein-langes-passwort"}
    )
    assert again.status_code == 401
    client.post(f"/admin/organizers/{organizer.id}/active")  # enable again

    # A new password: the old one stops working.
    short = client.post(f"/admin/organizers/{organizer.id}/password", data={"password": "x"})
    assert short.status_code == 422
    client.post(
        f"/admin/organizers/{organizer.id}/password", data={"password": "das-neue-passwort-123"}
    )
    old = other.post(
        "/admin/login", data={"email": "neu@forum.example.org", "password": "ein-langes-passwort"}
    )
    assert old.status_code == 401
    new = other.post(
        "/admin/login", data={"email": "neu@forum.example.org", "password": "das-neue-passwort-123"}
    )
    assert new.status_code == 302


def test_admin_cannot_lock_themselves_out(client, login):
    login(email="admin@forum.example.org", admin=True)
    me = db.session.scalar(select(Organizer))
    response = client.post(f"/admin/organizers/{me.id}/active", follow_redirects=True)
    assert "nicht deaktivieren" in flashes(response.get_data(as_text=True))
    response = client.post(f"/admin/organizers/{me.id}", data={"name": "Ich"})
    assert response.status_code == 422
    db.session.expire_all()
    me = db.session.get(Organizer, me.id)
    assert me.active and me.is_admin
    assert client.get("/admin/organizers/999").status_code == 404


# --- CSRF on every organizer form ---


def test_csrf_is_enforced_on_every_organizer_form(make_app, make_round, make_application, app):
    from forum.auth import create_organizer

    rnd = make_round(seats=1)
    offered, waitlisted, submitted = (make_application(rnd) for _ in range(3))
    create_organizer("admin@forum.example.org", "richtig-langes-passwort", is_admin=True)
    db.session.commit()
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    client = csrf_app.test_client()
    # The test client speaks https (PREFERRED_URL_SCHEME): Flask-WTF then also checks the
    # referrer, as a browser would send it.
    client.environ_base["HTTP_REFERER"] = "https://localhost/admin/"

    # The login form itself.
    assert (
        client.post(
            "/admin/login",
            data={"email": "admin@forum.example.org", "password": "richtig-langes-passwort"},
        ).status_code
        == 400
    )
    token = CSRF.search(client.get("/admin/login").get_data(as_text=True))[1]
    logged_in = client.post(
        "/admin/login",
        data={
            "email": "admin@forum.example.org",
            "password": "richtig-langes-passwort",
            "csrf_token": token,
        },
    )
    assert logged_in.status_code == 302

    page = client.get(f"/admin/applications/{offered.id}").get_data(as_text=True)
    token = CSRF.search(page)[1]
    assert (
        client.post(
            f"/admin/applications/{offered.id}/decision",
            data={"action": "admit", "csrf_token": token},
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"/admin/applications/{waitlisted.id}/decision",
            data={"action": "admit", "csrf_token": token},
        ).status_code
        == 302
    )
    me = db.session.scalar(select(Organizer))
    forms = [
        (f"/admin/applications/{submitted.id}/decision", {"action": "reject"}),
        (f"/admin/rounds/{rnd.slug}/decisions", {"ids": [submitted.id], "action": "reject"}),
        (f"/admin/applications/{offered.id}/revoke", {"reason": "x"}),
        (f"/admin/applications/{waitlisted.id}/move", {"position": "1", "reason": "x"}),
        ("/admin/organizers/new", {"email": "neu@x.de", "password": "ein-langes-passwort"}),
        (f"/admin/organizers/{me.id}", {"name": "Gekapert", "is_admin": "y"}),
        (f"/admin/organizers/{me.id}/password", {"password": "gekapertes-passwort"}),
        (f"/admin/organizers/{me.id}/active", {}),
        ("/admin/logout", {}),
    ]
    for path, data in forms:
        for bad_token in (None, "falsch"):
            body = dict(data)
            if bad_token:
                body["csrf_token"] = bad_token
            response = client.post(path, data=body)
            assert response.status_code == 400, path
            assert "Formular abgelaufen" in response.get_data(as_text=True)
    db.session.expire_all()
    assert [reload(a).status for a in (offered, waitlisted, submitted)] == [
        "offered",
        "waitlisted",
        "submitted",
    ]
    assert db.session.scalar(select(Organizer).where(Organizer.email == "neu@x.de")) is None
    me = db.session.get(Organizer, me.id)
    assert me.name != "Gekapert"
    # Still logged in (logout without a token did nothing).
    assert client.get("/admin/").status_code == 200
    # Every organizer form renders a token.
    for path in (
        f"/admin/rounds/{rnd.slug}",
        f"/admin/applications/{waitlisted.id}",
        f"/admin/applications/{offered.id}",
        "/admin/organizers/new",
        f"/admin/organizers/{me.id}",
    ):
        html = client.get(path).get_data(as_text=True)
        assert html.count("<form") == len(CSRF.findall(html)) + html.count('method="get"'), path
