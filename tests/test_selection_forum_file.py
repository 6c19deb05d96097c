"""Forum file keys of selection (issue 9): ``review_criteria``, ``reviewers_per_application``,
``blind_review``: defaults, values, errors naming the key, nothing changed on error."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum.extensions import db
from forum.models import Round
from tests.helpers.forum_files import FORUM_FILE, write_file


def load(runner, tmp_path, text):
    return runner.invoke(args=["forum", "load", write_file(tmp_path, text)])


def round_() -> Round:
    db.session.commit()
    db.session.expire_all()
    return db.session.scalar(select(Round).where(Round.slug == "mkw-2027"))


def with_keys(lines: str) -> str:
    return FORUM_FILE.replace("max_per_organisation = 2\n", "max_per_organisation = 2\n" + lines)


def test_defaults_without_the_keys(runner, tmp_path):
    result = load(runner, tmp_path, FORUM_FILE)
    assert result.exit_code == 0, result.output
    rnd = round_()
    assert rnd.review_criteria == []
    assert rnd.reviewers_per_application == 2
    assert rnd.blind_review is False


def test_keys_are_loaded_and_a_second_load_changes_nothing(runner, tmp_path):
    text = with_keys(
        'review_criteria = ["Motivation", "Passung zur Gruppe", "Herausforderung"]\n'
        "reviewers_per_application = 3\nblind_review = true\n"
    )
    assert load(runner, tmp_path, text).exit_code == 0
    rnd = round_()
    assert rnd.review_criteria == ["Motivation", "Passung zur Gruppe", "Herausforderung"]
    assert rnd.reviewers_per_application == 3
    assert rnd.blind_review is True
    again = load(runner, tmp_path, text)
    assert "unchanged: round mkw-2027" in again.output


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ('review_criteria = "Motivation"\n', "review_criteria: expected a list of strings"),
        ('review_criteria = ["Motivation", ""]\n', "review_criteria.2: must not be empty"),
        ('review_criteria = ["A", "a"]\n', "review_criteria: lists a name twice"),
        ("review_criteria = [1]\n", "review_criteria.1: expected a string"),
        (f"review_criteria = [{', '.join(repr(str(n)) for n in range(13))}]\n", "at most 12"),
        (f'review_criteria = ["{"x" * 101}"]\n', "longer than 100 characters"),
        ("reviewers_per_application = 0\n", "reviewers_per_application: must be at least 1"),
        ('reviewers_per_application = "2"\n', "reviewers_per_application: expected a whole"),
        ('blind_review = "yes"\n', "blind_review: expected true or false"),
    ],
)
def test_bad_values_name_the_key_and_change_nothing(runner, tmp_path, lines, expected):
    assert load(runner, tmp_path, FORUM_FILE).exit_code == 0
    result = load(runner, tmp_path, with_keys(lines))
    assert result.exit_code == 1
    assert expected in result.output
    assert "rounds[1] (mkw-2027)" in result.output
    rnd = round_()
    assert rnd.review_criteria == [] and rnd.reviewers_per_application == 2
