"""The test suite's own layout: no test module imports another test module or ``conftest.py``
(shared code lives in ``tests/helpers/``, fixtures in ``tests/fixtures/``)."""

from __future__ import annotations

import ast

from tests.helpers import ROOT


def imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in ``source`` (a module of ``package``), relative
    imports spelled out; ``from . import x`` counts as importing ``package.x``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = (f"{base}.{node.module}" if node.module else base) if node.level else ""
            module = module or node.module or ""
            if node.module is None:
                found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, module))
    return found


def forbidden(module: str) -> bool:
    last = module.split(".")[-1]
    return module.startswith("tests.") and (last.startswith("test_") or last == "conftest")


def test_no_test_module_imports_another():
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        package = ".".join(path.relative_to(ROOT).parent.parts)
        for line, module in imported_modules(path.read_text(encoding="utf-8"), package):
            if forbidden(module):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not offenders, "import from tests.helpers instead:\n" + "\n".join(offenders)


def test_the_check_finds_every_spelling():
    source = (
        "from .test_apply_flow import links\n"
        "from . import conftest\n"
        "from tests.test_newsletter import link\n"
        "import tests.conftest\n"
        "from ..test_outbox import x\n"
        "from tests.helpers.mail import link\n"
        "from . import helpers\n"
    )
    modules = [m for _, m in imported_modules(source, "tests.fixtures")]
    assert [forbidden(m) for m in modules] == [True, True, True, True, True, False, False]
    assert modules[0] == "tests.fixtures.test_apply_flow"
    assert modules[4] == "tests.test_outbox"
