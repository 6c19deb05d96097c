"""The production files (docs/production.md) name commands that exist."""

from __future__ import annotations

import re
import shlex

from tests.helpers import ROOT


def test_procfile_and_units_run_existing_commands(runner):
    procfile = dict(
        line.split(": ", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert set(procfile) == {"web", "mail", "bulk", "cron"}
    units = {p.name: p.read_text() for p in (ROOT / "deploy" / "systemd").glob("*.service")}
    assert set(units) == {
        "kommunalforum-web.service",
        "kommunalforum-worker@.service",
        "kommunalforum-cron.service",
    }
    commands = [c for c in procfile.values() if c.startswith("flask")]
    commands += re.findall(r"bin/(flask --app app [a-z ]+)", "\n".join(units.values()))
    assert len(commands) >= 5
    for command in commands:
        args = shlex.split(command)[3:]  # after "flask --app app"
        words = [a for a in args if a not in ("mail", "default", "bulk")]
        result = runner.invoke(args=[*words, "--help"])
        assert result.exit_code == 0, (command, result.output)
    assert "app:create_app()" in procfile["web"]
    assert "app:create_app()" in units["kommunalforum-web.service"]
    docs = (ROOT / "docs" / "production.md").read_text()
    for topic in ("ProxyFix", "SECRET_KEY_FALLBACKS", "pg_dump", "db upgrade", "DMARC", "doctor"):
        assert topic in docs, topic
