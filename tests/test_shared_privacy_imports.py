"""Issue 7: forum/privacy.py, its admin page and registration/privacy.py without an import
cycle. Every import counts, also one inside a function (a lazy import hides a cycle, it does
not remove it)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("forum", "registration")
PRIVACY = ("forum.privacy", "forum.privacy_admin", "registration.privacy")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                # A module's own packages are imported before it anyway: no edge.
                if target and not (name == target or name.startswith(target + ".")):
                    graph[name].add(target)
    return graph


def _reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        for nxt in graph[current]:
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


@pytest.mark.parametrize("module", PRIVACY)
def test_no_import_cycle_through_the_privacy_modules(module):
    graph = _graph()
    cycle_partners = sorted(m for m in graph[module] if _reaches(graph, m, module))
    assert cycle_partners == []


def test_the_base_never_imports_registration():
    graph = _graph()
    assert not [
        (m, t)
        for m, ts in graph.items()
        if m.startswith("forum")
        for t in ts
        if t.startswith("registration")
    ]


@pytest.mark.parametrize("module", PRIVACY)
def test_each_imports_alone_in_a_fresh_interpreter(module):
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
