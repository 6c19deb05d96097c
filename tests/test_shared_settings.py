"""Issue 7: every setting has its one default in forum/config.py (Defaults); the code reads
``app.config["X"]`` and never states a second default at the call site."""

from __future__ import annotations

import ast
from pathlib import Path

from forum.config import Defaults
from tests.helpers import application_data

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    ROOT / "app.py",
    *sorted((ROOT / "forum").rglob("*.py")),
    *sorted((ROOT / "registration").rglob("*.py")),
]
#: Set by Flask, Flask-Login or the factory itself, not settings of ours.
FRAMEWORK = {
    "PREFERRED_URL_SCHEME",
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED",
    "REMEMBER_COOKIE_SECURE",
    "SESSION_COOKIE_SECURE",
}


def _config_reads() -> tuple[set[str], list[str]]:
    """The keys read as ``….config["X"]``, and every ``….config.get(…)`` call (file:line)."""
    keys: set[str] = set()
    gets: list[str] = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "config"
                and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str)
            ):
                keys.add(node.slice.value)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("get", "setdefault")
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "config"
            ):
                gets.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return keys, gets


def test_no_second_default_at_a_call_site():
    keys, gets = _config_reads()
    assert gets == []
    assert "RATELIMIT_APPLY" in keys  # the scan sees the reads


def test_every_setting_read_has_its_default_in_the_config_class():
    keys, _ = _config_reads()
    defaults = {name for name in vars(Defaults) if name.isupper()}
    assert keys - FRAMEWORK - defaults == set()


def test_newsletter_defaults_come_from_the_config_class(make_app, monkeypatch):
    app = make_app()
    assert app.config["NEWSLETTER_CONFIRM_DAYS"] == Defaults.NEWSLETTER_CONFIRM_DAYS == 7
    assert app.config["NEWSLETTER_RATELIMIT"] == "10 per minute; 100 per hour"
    monkeypatch.setenv("FORUM_NEWSLETTER_CONFIRM_DAYS", "3")
    assert make_app().config["NEWSLETTER_CONFIRM_DAYS"] == 3


def test_the_apply_limit_is_the_setting(make_app, make_round):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_APPLY="2 per minute")
    rnd = make_round()
    client = app.test_client()
    data = application_data(email="")  # invalid: nothing is stored, but the POST counts
    answers = [client.post(f"/rounds/{rnd.slug}/apply", data=data).status_code for _ in range(3)]
    assert answers == [422, 422, 429]
