"""Command line: ``flask forum load``, ``flask maintenance run``, ``flask privacy …``,
``flask dev …``."""

from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from .extensions import db
from .loader import ForumFileError, load_forum_file
from .maintenance import maintenance_job, run_maintenance
from .privacy import erase_person, export_person

forum_cli = AppGroup("forum", help="Forums and rounds.")
maintenance_cli = AppGroup("maintenance", help="Periodic maintenance.")
privacy_cli = AppGroup("privacy", help="Export and erase what is stored about a person.")
dev_cli = AppGroup("dev", help="Development helpers (mail catcher).")


@forum_cli.command("load")
@click.argument("path", type=click.Path(dir_okay=False))
def load_command(path: str) -> None:
    """Create or update a forum and its rounds from a TOML file."""
    try:
        result = load_forum_file(path)
        db.session.commit()
    except ForumFileError as exc:
        db.session.rollback()
        raise click.ClickException(f"{path}: {exc} (nothing was changed)") from None
    for label, items in (
        ("created", result.created),
        ("updated", result.updated),
        ("unchanged", result.unchanged),
    ):
        for item in items:
            click.echo(f"{label}: {item}")


@maintenance_cli.command("run")
def maintenance_command() -> None:
    """Expire unconfirmed applications, lapse expired offers and promote, and enqueue every
    unsent outbox message (also those waiting for a retry)."""
    results = run_maintenance()
    for name, count in results.items():
        click.echo(f"{name}: {count}")
    if any(count < 0 for count in results.values()):
        raise click.ClickException("a maintenance task failed, see the log")


@privacy_cli.command("export")
@click.argument("email")
def privacy_export_command(email: str) -> None:
    """Print everything stored about EMAIL as JSON."""
    click.echo(json.dumps(export_person(email), ensure_ascii=False, indent=2))


@privacy_cli.command("erase")
@click.argument("email")
@click.option("--reason", required=True, help="Why (kept in the applications' history).")
def privacy_erase_command(email: str, reason: str) -> None:
    """Withdraw and anonymise the applications of EMAIL, delete its newsletter records and the
    mails to it. Idempotent."""
    reason = reason.strip()
    if not reason:
        raise click.BadParameter("must not be empty", param_hint="--reason")
    result = erase_person(email, reason, by="command line")
    if result.total == 0:
        db.session.rollback()
        click.echo(f"nothing found for {result.key}; nothing was changed")
        return
    db.session.commit()
    for name, count in result.counts.items():
        click.echo(f"{name}: {count}")


@dev_cli.command("mailcatcher")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8025, type=int)
def mailcatcher_command(host: str, port: int) -> None:
    """Run a local SMTP server that keeps every mail for the inbox page at /dev/mail."""
    from .devmail import run_mailcatcher

    run_mailcatcher(host, port)


def init_app(app: Flask) -> None:
    from . import doctor

    doctor.init_app(app)
    app.cli.add_command(forum_cli)
    app.cli.add_command(maintenance_cli)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(dev_cli)
    interval = int(app.config.get("MAINTENANCE_INTERVAL", 60))
    maintenance_job.cron_register(interval)
