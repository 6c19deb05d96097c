"""``flask --app app doctor``: is everything the service needs there and alive? Configuration,
database and migrations, Redis, the SMTP server, the RQ workers and the scheduler. Each check
says in plain words what is wrong; the command exits with status 1 if anything is."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .config import Defaults
from .extensions import db, rq


@dataclass
class Finding:
    check: str
    ok: bool
    message: str


def _production() -> bool:
    """The development setup (run.sh) turns the development inbox on; anything else is
    treated as production."""
    return not current_app.config["DEV_MAIL_INBOX"]


def check_configuration() -> list[Finding]:
    config = current_app.config
    problems = []
    if _production():
        if config["SECRET_KEY"] == Defaults.SECRET_KEY:
            problems.append(
                "FORUM_SECRET_KEY is the development value: anyone could sign links and "
                "sessions. Set a long random value (python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))')."
            )
        url = urlsplit(config["PUBLIC_BASE_URL"])
        if url.scheme != "https":
            problems.append(
                f"FORUM_PUBLIC_BASE_URL is {config['PUBLIC_BASE_URL']!r}: links in mails must "
                "start with https:// in production."
            )
        if url.hostname in (None, "localhost", "127.0.0.1") or (url.hostname or "").endswith(
            ".example"
        ):
            problems.append(
                f"FORUM_PUBLIC_BASE_URL points to {url.hostname!r}: recipients cannot open "
                "links to it. Set the public address of the service."
            )
        for key in ("LEGAL_CONTROLLER_NAME", "LEGAL_CONTROLLER_ADDRESS", "LEGAL_CONTROLLER_EMAIL"):
            if config[key] == getattr(Defaults, key):
                problems.append(
                    f"FORUM_{key} is still the placeholder: the privacy notice and the legal "
                    "notice must name the real provider."
                )
        if config["ACCESSIBILITY_CONTACT_EMAIL"] == Defaults.ACCESSIBILITY_CONTACT_EMAIL:
            problems.append(
                "FORUM_ACCESSIBILITY_CONTACT_EMAIL is still the placeholder: the accessibility "
                "statement needs a real feedback address."
            )
    if problems:
        return [Finding("configuration", False, p) for p in problems]
    mode = "production" if _production() else "development (FORUM_DEV_MAIL_INBOX is on)"
    return [Finding("configuration", True, f"settings look right for {mode}")]


def check_database() -> list[Finding]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    url = db.engine.url.render_as_string(hide_password=True)
    try:
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:  # any driver error: say what it was
        return [Finding("database", False, f"cannot connect to {url}: {_first_line(exc)}")]
    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    heads = set(script.get_heads())
    if current != heads:
        have = ", ".join(sorted(current)) or "none"
        return [
            Finding(
                "database",
                False,
                f"{url}: the schema is at migration {have}, the code needs "
                f"{', '.join(sorted(heads))}. Run `flask --app app db upgrade`.",
            )
        ]
    return [Finding("database", True, f"{url} reachable, migrations at head ({', '.join(heads)})")]


def _redis():
    return rq.get_queue("default").connection


def check_redis() -> list[Finding]:
    try:
        _redis().ping()
    except Exception as exc:
        url = urlsplit(current_app.config["RQ_CONNECTION"])
        return [
            Finding(
                "redis",
                False,
                f"no answer from Redis at {url.hostname}:{url.port or 6379} "
                f"({_first_line(exc)}): no mail goes out and no job runs until it is up.",
            )
        ]
    return [Finding("redis", True, "Redis answers")]


def check_smtp() -> list[Finding]:
    config = current_app.config
    where = f"{config['MAIL_SERVER']}:{config['MAIL_PORT']}"
    try:
        smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
        with smtp_class(
            config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=config["MAIL_TIMEOUT"]
        ) as server:
            server.ehlo()
            if config["MAIL_USE_TLS"]:
                server.starttls()
                server.ehlo()
            if config["MAIL_USERNAME"]:
                server.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            code, answer = server.noop()
            if code != 250:
                raise smtplib.SMTPResponseException(code, answer)
    except (OSError, smtplib.SMTPException) as exc:
        return [
            Finding(
                "smtp",
                False,
                f"the SMTP server at {where} does not accept us ({_first_line(exc)}): mails "
                "wait in the outbox until it does.",
            )
        ]
    return [Finding("smtp", True, f"the SMTP server at {where} answers")]


def check_workers() -> list[Finding]:
    from rq import Worker
    from rq.cron import CronScheduler

    try:
        connection = _redis()
        workers = Worker.all(connection=connection)
        schedulers = CronScheduler.all(connection)
    except Exception as exc:
        return [Finding("workers", False, f"cannot ask Redis about workers: {_first_line(exc)}")]
    findings = []
    listening = {name for w in workers for name in w.queue_names()}
    for queue in current_app.config["RQ_QUEUES"]:
        if queue in listening:
            count = sum(queue in w.queue_names() for w in workers)
            findings.append(Finding("workers", True, f"queue {queue!r}: {count} worker(s)"))
        else:
            findings.append(
                Finding(
                    "workers",
                    False,
                    f"no RQ worker listens on the queue {queue!r}: its jobs wait. Start one, "
                    f"e.g. `flask --app app rq worker {queue}` (docs/production.md).",
                )
            )
    if schedulers:
        findings.append(Finding("scheduler", True, f"{len(schedulers)} scheduler(s) alive"))
    else:
        findings.append(
            Finding(
                "scheduler",
                False,
                "no RQ cron scheduler is alive: unconfirmed applications do not expire, offers "
                "do not lapse, mails waiting for a retry are not swept. Start "
                "`flask --app app rq cron`.",
            )
        )
    return findings


CHECKS: tuple[Callable[[], list[Finding]], ...] = (
    check_configuration,
    check_database,
    check_redis,
    check_smtp,
    check_workers,
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@click.command("doctor")
@with_appcontext
def doctor_command() -> None:
    """Check configuration, database, Redis, SMTP, workers and scheduler."""
    findings = [finding for check in CHECKS for finding in check()]
    for f in findings:
        click.echo(f"{'ok  ' if f.ok else 'FAIL'}  {f.check}: {f.message}")
    bad = [f for f in findings if not f.ok]
    if bad:
        click.echo(f"{len(bad)} problem(s) found.")
        raise SystemExit(1)
    click.echo("Everything looks fine.")


def init_app(app: Flask) -> None:
    app.cli.add_command(doctor_command)
