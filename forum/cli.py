"""Command line: ``flask forum load``, ``flask maintenance run``, ``flask privacy …``,
``flask dev …``."""

from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from .extensions import db
from .loader import ForumFileError, export_forum, load_forum_file
from .maintenance import maintenance_job, run_maintenance
from .privacy import erase_person, export_person

forum_cli = AppGroup("forum", help="Forums and rounds.")
maintenance_cli = AppGroup("maintenance", help="Periodic maintenance.")
privacy_cli = AppGroup("privacy", help="Export and erase what is stored about a person.")
dev_cli = AppGroup("dev", help="Development helpers (mail catcher).")
bounces_cli = AppGroup("bounces", help="Receive and import bounces and complaints.")


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


@forum_cli.command("export")
@click.argument("slug")
def export_command(slug: str) -> None:
    """Print the forum file of forum SLUG and all its rounds (loading it changes nothing)."""
    from sqlalchemy import select

    from .models import Forum

    forum = db.session.scalar(select(Forum).where(Forum.slug == slug))
    if forum is None:
        raise click.ClickException(f"no forum with the slug {slug!r}")
    click.echo(export_forum(forum), nl=False)


@maintenance_cli.command("run")
def maintenance_command() -> None:
    """Expire unconfirmed applications, lapse expired offers and promote, and enqueue every
    unsent outbox message (also those waiting for a retry)."""
    results = run_maintenance(include_waiting=True)
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


@bounces_cli.command("serve")
@click.option("--host", default="127.0.0.1")
@click.option("--port", required=True, type=click.IntRange(1, 65535))
def bounces_serve_command(host: str, port: int) -> None:
    """Run an SMTP server that receives bounces and complaints for BOUNCE_ADDRESS."""
    from flask import current_app

    from .bounces import serve

    if not current_app.config["BOUNCE_ADDRESS"]:
        raise click.ClickException("FORUM_BOUNCE_ADDRESS is not set")
    # current_app is a LocalProxy that Flask types as Flask, without the proxy's method
    serve(current_app._get_current_object(), host, port)  # type: ignore[attr-defined]


@bounces_cli.command("import")
@click.argument("path", type=click.Path(exists=True))
def bounces_import_command(path: str) -> None:
    """Read bounces and complaints from .eml files, an mbox or a Maildir. Idempotent."""
    from collections import Counter

    from flask import current_app

    from .bounces import import_path

    if not current_app.config["BOUNCE_ADDRESS"]:
        raise click.ClickException("FORUM_BOUNCE_ADDRESS is not set")
    results = import_path(path)
    for name, result in results:
        click.echo(f"{name}: {result.outcome} {result.detail}".rstrip())
    counts = Counter(result.outcome for _name, result in results)
    click.echo(
        ", ".join(f"{k}: {counts[k]}" for k in ("recorded", "duplicate", "ignored", "error"))
    )
    if counts["error"]:
        raise click.ClickException("some messages could not be processed, see above")


def init_app(app: Flask) -> None:
    from . import doctor

    doctor.init_app(app)
    app.cli.add_command(forum_cli)
    app.cli.add_command(maintenance_cli)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(dev_cli)
    app.cli.add_command(bounces_cli)
    interval = int(app.config["MAINTENANCE_INTERVAL"])
    maintenance_job.cron_register(interval)
