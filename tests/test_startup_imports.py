"""What starting the service costs: alembic (through Flask-Migrate, a third of a second) is
imported only when a ``db`` command, a migration or ``flask doctor`` needs it
(``forum/extensions.py``: ``DeferredMigrate``); the commands work as before."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.helpers import ROOT


def _python(code: str, tmp_path) -> str:
    env = {**os.environ, "FORUM_INSTANCE_PATH": str(tmp_path / "instance")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_app_starts_without_alembic(tmp_path):
    code = (
        "import sys, app\n"
        "a = app.create_app({'TESTING': True})\n"
        "a.cli.list_commands(None)\n"  # the command groups are registered, ``db`` among them
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'flask_migrate'}))"
    )
    assert _python(code, tmp_path) == "[]"


def test_the_db_commands_are_flask_migrates(runner):
    listed = runner.invoke(args=["--help"])
    assert re.search(r"^ +db +Perform database migrations\.$", listed.output, re.M), listed.output
    result = runner.invoke(args=["db", "--help"])
    assert result.exit_code == 0, result.output
    assert "-d, --directory TEXT" in result.output
    assert "upgrade" in result.output
    # migrations/env.py reads the database from app.extensions["migrate"]; alembic prints the
    # revision to the stdout it saw at import, which the runner does not capture.
    current = runner.invoke(args=["db", "current"])
    assert current.exit_code == 0, current.output
    assert "[alembic.runtime.migration] Context impl" in current.output


def test_an_unknown_db_command_is_refused(runner):
    result = runner.invoke(args=["db", "nonsense"])
    assert result.exit_code == 2
    assert "No such command 'nonsense'" in result.output
