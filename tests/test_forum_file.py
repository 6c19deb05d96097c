"""``flask forum load``: the file format of PRODUCT.md, strict validation, idempotence."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from forum.models import Forum, Meeting, Round
from tests.helpers.forum_files import FORUM_FILE, write_file


def counts():
    return tuple(
        db.session.scalar(select(func.count()).select_from(m)) for m in (Forum, Round, Meeting)
    )


def test_load_creates_and_is_idempotent(runner, tmp_path):
    path = write_file(tmp_path, FORUM_FILE)
    first = runner.invoke(args=["forum", "load", path])
    assert first.exit_code == 0, first.output
    assert "created: round mkw-2027" in first.output
    assert counts() == (1, 1, 1)
    db.session.expire_all()
    rnd = db.session.scalar(select(Round))
    assert rnd.seats == 24 and rnd.max_per_state == 14 and rnd.states == ["DE-BY", "DE-BW"]
    assert rnd.opens.utcoffset().total_seconds() == 0  # stored as UTC
    assert rnd.opens.isoformat() == "2026-11-30T23:00:00+00:00"

    second = runner.invoke(args=["forum", "load", path])
    assert second.exit_code == 0
    assert "unchanged: round mkw-2027" in second.output
    assert counts() == (1, 1, 1)

    changed = write_file(
        tmp_path, FORUM_FILE.replace('title = "Staffel 2027"', 'title = "Staffel 2027/28"')
    )
    third = runner.invoke(args=["forum", "load", changed])
    assert "updated: round mkw-2027" in third.output
    db.session.expire_all()
    assert db.session.scalar(select(Round.title)) == "Staffel 2027/28"
    assert counts() == (1, 1, 1)


def test_demo_file_loads(runner):
    result = runner.invoke(args=["forum", "load", "demo/meine-kommune-weiterdenken.toml"])
    assert result.exit_code == 0, result.output
    rnd = db.session.scalar(select(Round).where(Round.slug == "mkw-2027"))
    assert len(rnd.meetings) == 3


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("seats = 24", 'seats = 24\ncolour = "red"'), "(mkw-2027).colour: unknown key"),
        (("seats = 24", 'seats = "viele"'), "(mkw-2027).seats: expected a whole number"),
        (("seats = 24", "seats = 0"), "(mkw-2027).seats: must be at least 1"),
        (('"DE-BW"]', '"DE-XX"]'), "(mkw-2027).states: unknown code 'DE-XX'"),
        (('"head_of_office"]', '"king"]'), "(mkw-2027).roles: unknown code 'king'"),
        (('admission = "review"', 'admission = "lottery"'), "(mkw-2027).admission"),
        (
            ("closes = 2027-01-31T23:59:00+01:00", "closes = 2026-11-01T23:59:00+01:00"),
            "(mkw-2027).closes: must be after opens",
        ),
        (
            ('venue = "Nürnberg"\n', ""),
            "(mkw-2027).meetings[1].venue: missing",
        ),
        (
            ("opens = 2026-12-01T00:00:00+01:00", "opens = 2026-12-01T00:00:00"),
            "(mkw-2027).opens: needs a UTC offset",
        ),
        (('slug = "mkw-2027"', 'slug = "MKW 2027"'), "slug: use lowercase letters"),
        (("max_per_state = 14", "max_per_state = 40"), "max_per_state: must not exceed seats"),
        (('[forum]\nslug = "meine-kommune-weiterdenken"', "[forum]"), "forum.slug: missing"),
        (("[[rounds]]", "[[rundes]]\n[[rounds]]"), "rundes: unknown key"),
        (('title = "Staffel 2027"', "title = "), "not valid TOML"),
        (('admission = "review"', 'admission = ["review"]'), "(mkw-2027).admission: unknown value"),
        (
            ('states = ["DE-BY", "DE-BW"]', 'states = [["DE-BY"]]'),
            "(mkw-2027).states: unknown code",
        ),
        (('states = ["DE-BY", "DE-BW"]', "states = [{a = 1}]"), "(mkw-2027).states: unknown code"),
        (('title = "Staffel 2027"', 'title = "Staffel\\u00002027"'), "title: contains a control"),
    ],
)
def test_bad_file_names_the_key_and_changes_nothing(runner, tmp_path, change, expected):
    runner.invoke(args=["forum", "load", write_file(tmp_path, FORUM_FILE, "good.toml")])
    before = counts()
    bad = FORUM_FILE.replace(*change, 1)
    assert bad != FORUM_FILE
    # A second round that would be created if the file were applied partly.
    bad = (
        bad.replace(
            "[[rounds]]",
            '[[rounds]]\nslug = "neu"\ntitle = "Neu"\nseats = 3\n'
            "opens = 2026-12-01T00:00:00+01:00\ncloses = 2027-01-01T00:00:00+01:00\n"
            'states = ["DE-BY"]\nroles = ["mayor"]\nbody_types = ["city"]\n\n'
            "[[rounds]]",
            1,
        )
        if "rundes" not in expected
        else bad
    )
    result = runner.invoke(args=["forum", "load", write_file(tmp_path, bad, "bad.toml")])
    assert result.exit_code != 0
    assert expected in result.output, result.output
    assert "nothing was changed" in result.output
    db.session.expire_all()
    assert counts() == before
    assert db.session.scalar(select(Round.title).where(Round.slug == "mkw-2027")) == "Staffel 2027"


def test_missing_file(runner, tmp_path):
    result = runner.invoke(args=["forum", "load", str(tmp_path / "nope.toml")])
    assert result.exit_code != 0
    assert "cannot read the file" in result.output


def test_round_slug_of_another_forum_is_refused(runner, tmp_path):
    runner.invoke(args=["forum", "load", write_file(tmp_path, FORUM_FILE, "a.toml")])
    other = FORUM_FILE.replace('slug = "meine-kommune-weiterdenken"', 'slug = "anderes-forum"')
    result = runner.invoke(args=["forum", "load", write_file(tmp_path, other, "b.toml")])
    assert result.exit_code != 0
    assert "already belongs to another forum" in result.output
    db.session.expire_all()
    assert counts() == (1, 1, 1)


def test_forum_description_markdown_is_safe(client, runner, tmp_path):
    text = FORUM_FILE.replace(
        'description = "Ein *Forum*."',
        'description = "Ein *Forum*. <script>x()</script> [böse](javascript:alert(1)) '
        '[gut](https://example.org) ![pixel](https://tracker.example/p.gif)"',
    )
    assert runner.invoke(args=["forum", "load", write_file(tmp_path, text)]).exit_code == 0
    html = client.get("/forums/meine-kommune-weiterdenken").get_data(as_text=True)
    assert "<em>Forum</em>" in html
    assert "<script>x()" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html
    assert 'href="https://example.org"' in html
    assert "tracker.example" not in html and "<img" not in html


def test_gender_star_is_not_emphasis(app):
    from forum.formatting import render_markdown
    from forum.newsletter.render import body_to_html

    text = "Für Oberbürgermeister*innen, Bürgermeister*innen und Landrät*innen, **wichtig**."
    for html in (str(render_markdown(text)), str(body_to_html(text))):
        assert "Oberbürgermeister*innen, Bürgermeister*innen" in html
        assert "<em>" not in html
        assert "<strong>wichtig</strong>" in html
