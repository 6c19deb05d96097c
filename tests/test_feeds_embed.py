"""Rounds on partner websites (issue 13): ``/rounds.json`` and ``/rounds.atom`` parsed as JSON
and Atom, and the embed page's framing rules (CSP ``frame-ancestors``)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta

from forum.db import utcnow

A = "{http://www.w3.org/2005/Atom}"


def _rounds(make_round):
    now = utcnow()
    open_round = make_round(title="Staffel 2027", seats=24)
    upcoming = make_round(
        title="Seminar Erfurt",
        opens=now + timedelta(days=10),
        closes=now + timedelta(days=40),
        body_types=["city", "association", "private"],
        roles=["mayor", "volunteer", "citizen"],
        states=["DE-TH"],
    )
    closed = make_round(
        title="Staffel 2025", opens=now - timedelta(days=90), closes=now - timedelta(days=30)
    )
    invited = make_round(title="Steuergruppe", invitation_only=True)
    return open_round, upcoming, closed, invited


def test_rounds_json(client, make_round):
    open_round, upcoming, closed, invited = _rounds(make_round)
    response = client.get("/rounds.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    data = json.loads(response.get_data(as_text=True))
    by_slug = {r["slug"]: r for r in data["rounds"]}
    assert set(by_slug) == {open_round.slug, upcoming.slug, invited.slug}  # not the closed one
    entry = by_slug[open_round.slug]
    assert entry["title"] == "Staffel 2027"
    assert entry["forum"] == {
        "slug": "test-forum",
        "title": "Testforum",
        "url": "https://forum.example.org/forums/test-forum",
    }
    assert entry["seats"] == 24 and entry["phase"] == "open"
    assert entry["apply_url"] == f"https://forum.example.org/rounds/{open_round.slug}/apply"
    assert entry["meetings"][0]["venue"] == "Nürnberg"
    assert entry["closes"] == open_round.closes.isoformat()
    assert by_slug[upcoming.slug]["phase"] == "upcoming"
    assert {"code": "association", "label": "Verein/Verband"} in by_slug[upcoming.slug][
        "who_may_apply"
    ]["body_types"]
    assert by_slug[invited.slug]["invitation_only"] is True


def test_rounds_atom(client, make_round):
    open_round, upcoming, closed, invited = _rounds(make_round)
    response = client.get("/rounds.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.get_data())
    assert feed.tag == f"{A}feed"
    assert feed.find(f"{A}id").text == "https://forum.example.org/rounds.atom"
    assert feed.find(f"{A}title").text and feed.find(f"{A}updated").text
    assert feed.find(f"{A}author/{A}name").text
    entries = feed.findall(f"{A}entry")
    assert len(entries) == 3
    titles = {e.find(f"{A}title").text for e in entries}
    assert "Testforum: Staffel 2027" in titles and "Testforum: Staffel 2025" not in titles
    for entry in entries:  # what RFC 4287 requires of an entry
        assert entry.find(f"{A}id").text.startswith("https://forum.example.org/rounds/")
        assert entry.find(f"{A}updated").text
        assert entry.find(f"{A}link").get("href").endswith("/apply")
    staffel = next(e for e in entries if e.find(f"{A}title").text == "Testforum: Staffel 2027")
    summary = staffel.find(f"{A}summary").text
    assert "Plätze: 24" in summary and "Nürnberg" in summary
    assert f"https://forum.example.org/rounds/{open_round.slug}/apply" in summary


def test_embed_page_framing_allowed_only_from_configured_origins(make_app, make_round, app):
    rnd = make_round(title="Staffel 2027")
    allowed = make_app(
        EMBED_ORIGINS=["https://www.partner.example", "https://kommune.example:8443/", "*", "x"]
    )
    with allowed.test_client() as c:
        response = c.get(f"/embed/forums/{rnd.forum.slug}")
        assert response.status_code == 200
        csp = response.headers["Content-Security-Policy"]
        ancestors = csp.split("frame-ancestors ")[1].split(";")[0].split()
        # Only the two valid origins: "*" and "x" are ignored, never widening the list.
        assert ancestors == ["https://www.partner.example", "https://kommune.example:8443"]
        assert "X-Frame-Options" not in response.headers
        html = response.get_data(as_text=True)
        assert "Staffel 2027" in html
        assert f'href="/rounds/{rnd.slug}/apply"' in html and 'target="_blank"' in html
        # Every other page stays unframeable.
        for path in ("/", f"/rounds/{rnd.slug}/apply", "/rounds.json"):
            other = c.get(path)
            assert other.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in other.headers["Content-Security-Policy"]
        assert c.get("/embed/forums/gibt-es-nicht").status_code == 404


def test_embed_page_unframeable_without_origins(client, make_round):
    rnd = make_round()
    response = client.get(f"/embed/forums/{rnd.forum.slug}")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "https://www.partner.example" not in response.headers["Content-Security-Policy"]


def test_embed_origins_from_the_environment(make_app, make_round, app, monkeypatch):
    rnd = make_round()
    monkeypatch.setenv("FORUM_EMBED_ORIGINS", '["https://www.partner.example"]')
    configured = make_app()
    with configured.test_client() as c:
        csp = c.get(f"/embed/forums/{rnd.forum.slug}").headers["Content-Security-Policy"]
    assert csp.endswith("frame-ancestors https://www.partner.example")
