"""Command line of the domain: ``flask round message``."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from forum.extensions import db
from forum.models import Round

from .participants.messages import AUDIENCES, MessageError, send_round_message

round_cli = AppGroup("round", help="Rounds after admission: messages to participants.")


@round_cli.command("message")
@click.argument("slug")
@click.option("--audience", required=True, type=click.Choice(list(AUDIENCES)))
@click.option("--subject", required=True, help="The subject line.")
@click.option(
    "--body-file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The message as Markdown (UTF-8).",
)
def message_command(slug: str, audience: str, subject: str, body_file: str) -> None:
    """Send a message to an audience of round SLUG through the outbox; prints how many mails
    were queued."""
    rnd = db.session.scalar(select(Round).where(Round.slug == slug))
    if rnd is None:
        raise click.ClickException(f"no round with the slug {slug!r}")
    try:
        body = Path(body_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{body_file}: cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{body_file}: is not UTF-8 text") from None
    try:
        message = send_round_message(rnd, audience, subject, body, sender="command line")
    except MessageError as exc:
        db.session.rollback()
        option = "--body-file" if exc.field == "body" else f"--{exc.field}"
        raise click.ClickException(f"{option}: {exc.message} (nothing was sent)") from None
    db.session.commit()
    click.echo(f"queued {message.recipients} messages to {audience} of {rnd.slug}")
