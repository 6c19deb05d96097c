"""Issue 7: the lifecycle tables are the only place that lists statuses. No module but
``registration/lifecycle.py`` and the newsletter's ``forum/newsletter/models.py`` (the tables and
their named sets), the words mappings and the migrations compares a status with a literal or
restates a set of statuses; templates ask the Jinja tests (``a is holding_seat``) and pick words
through the mappings (``status_label``, ``status_text``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Where statuses are named on purpose: the tables with their sets, and the words for them.
ALLOWED = {
    "registration/lifecycle.py",
    "registration/admission/messages.py",
    "forum/newsletter/models.py",
    "forum/newsletter/messages.py",
}
SOURCES = [
    path
    for path in [
        ROOT / "app.py",
        *sorted((ROOT / "forum").rglob("*.py")),
        *sorted((ROOT / "registration").rglob("*.py")),
    ]
    if str(path.relative_to(ROOT)) not in ALLOWED
]
#: The status enums of the lifecycle tables (and their short names).
STATUS_ENUMS = {"Status", "S", "SubscriberStatus", "SP", "AnnouncementStatus", "AS"}
STATUS_ENUMS |= {"DeliveryStatus"}


def _is_status(node: ast.AST) -> bool:
    """``x.status``, ``status``, ``from_status``, ``to_status`` …"""
    name = (
        node.attr
        if isinstance(node, ast.Attribute)
        else node.id
        if isinstance(node, ast.Name)
        else ""
    )
    return name == "status" or name.endswith("_status")


def _is_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_is_literal(e) for e in node.elts)
    return False


def _is_member(node: ast.AST) -> bool:
    """``Status.OFFERED`` or ``S.OFFERED.value``."""
    if isinstance(node, ast.Attribute) and node.attr == "value":
        node = node.value
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in STATUS_ENUMS
    )


def _is_restated_set(node: ast.AST) -> bool:
    """A tuple, list or set of two or more status members: a rule that belongs in the table."""
    return (
        isinstance(node, ast.Tuple | ast.List | ast.Set)
        and len(node.elts) >= 2
        and all(_is_member(e) for e in node.elts)
    )


def findings(source: str, name: str = "<test>") -> list[str]:
    """Where ``source`` compares a status with a literal or restates a set of statuses."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_is_status(o) for o in operands) and any(_is_literal(o) for o in operands):
                found.append(f"{name}:{node.lineno}: status compared with a literal")
            if any(_is_restated_set(o) for o in node.comparators):
                found.append(f"{name}:{node.lineno}: a set of statuses restated")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "in_"
            and _is_status(node.func.value)
            and any(_is_literal(a) or _is_restated_set(a) for a in node.args)
        ):
            found.append(f"{name}:{node.lineno}: status IN a list written here")
    return found


def test_no_module_but_the_tables_and_the_words_lists_statuses():
    found = []
    for path in SOURCES:
        found += findings(path.read_text(), str(path.relative_to(ROOT)))
    assert found == []


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ('if application.status == "pending_email": pass', True),
        ("x = Subscriber.status != 'confirmed'", True),
        ("ok = a.status in ('offered', 'accepted')", True),
        ("ok = a.status in (Status.OFFERED, Status.ACCEPTED)", True),
        ("q = select(A).where(A.status.in_(['queued', 'sending']))", True),
        ("q = A.status.in_([DeliveryStatus.FAILED.value, DeliveryStatus.DEFERRED.value])", True),
        # A transition to a named status, and a named set, are fine.
        ("transition(a, Status.OFFERED, Actor.SYSTEM)", False),
        ("ok = a.status in HOLDING", False),
        ("q = A.status.in_(values(HOLDING))", False),
    ],
)
def test_the_python_scan_can_fail(source, flagged):
    assert bool(findings(source)) is flagged


#: In templates: ``status == '…'``, ``status != '…'``, ``status in (…)``, and a ``selectattr``
#: over a status.
TEMPLATE_RULES = re.compile(
    r"status\s*(==|!=)\s*['\"]"
    r"|status\s+(not\s+)?in\s*[(\[]"
    r"|selectattr\([^)]*status"
    r"|\bin\s*[(\[]\s*['\"](pending_email|submitted|waitlisted|offered|accepted|rejected|declined"
    r"|lapsed|withdrawn|expired|revoked|draft|queued|sending|done|pending|confirmed"
    r"|unsubscribed|sent|deferred|failed|skipped)['\"]"
)


def template_findings(text: str, name: str = "<test>") -> list[str]:
    return [
        f"{name}:{number}: {line.strip()[:120]}"
        for number, line in enumerate(text.splitlines(), 1)
        if TEMPLATE_RULES.search(line)
    ]


def test_no_template_compares_a_status_with_a_literal():
    found = []
    for folder in ("templates", "mail_templates"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file():
                found += template_findings(path.read_text(), str(path.relative_to(ROOT)))
    assert found == []


@pytest.mark.parametrize(
    ("line", "flagged"),
    [
        ("{% if a.status == 'waitlisted' %}", True),
        ("{% if a.status not in ('offered', 'accepted') %}", True),
        ("{% if announcement.status in ('queued', 'sending') %}", True),
        ("{% set x = g|selectattr('application.status', 'in', ['offered']) %}", True),
        ("{% if filters.status != 'waitlisted' %}", True),
        ("{% if n or s.value in ('submitted', 'waitlisted') %}", True),
        ("{% if a is holding_seat %}{{ status_label(a.status) }}", False),
        ('<span class="offered"></span>', False),
    ],
)
def test_the_template_scan_can_fail(line, flagged):
    assert bool(template_findings(line)) is flagged
