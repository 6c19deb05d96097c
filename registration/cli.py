"""Command line of the registration: ``flask round invite`` and ``flask round message``."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from forum.extensions import db
from forum.models import Round

from .invitations import InvitationFileError, invite, read_file
from .participants.messages import AUDIENCES, MessageError, find_group, send_round_message

round_cli = AppGroup("round", help="Rounds: invitations and messages to participants.")


@round_cli.command("invite")
@click.argument("round_slug")
@click.argument("path", type=click.Path(dir_okay=False))
def invite_command(round_slug: str, path: str) -> None:
    """Invite the people in a CSV file (columns email, first_name, last_name, optional
    organisation, state, role, body_type) to a round: one invitation mail per new row.
    Idempotent: addresses invited before are left alone."""
    rnd = db.session.scalar(select(Round).where(Round.slug == round_slug))
    if rnd is None:
        raise click.ClickException(f"no round with the slug {round_slug!r}")
    try:
        report = invite(rnd, read_file(path), by="command line")
    except InvitationFileError as exc:
        db.session.rollback()
        raise click.ClickException(f"{path}: {exc} (nobody was invited)") from None
    db.session.commit()
    for line, reason in report.errors:
        click.echo(f"{path}:{line}: {reason}", err=True)
    click.echo(f"invited: {report.invited}")
    click.echo(f"invited before: {report.present}")
    if report.errors:
        raise click.ClickException(f"{len(report.errors)} row(s) failed, see above")


@round_cli.command("message")
@click.argument("slug")
@click.option("--audience", required=True, type=click.Choice(list(AUDIENCES)))
@click.option("--group", default=None, help="Only to this group of the round (its name).")
@click.option("--subject", required=True, help="The subject line.")
@click.option(
    "--body-file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The message as Markdown (UTF-8).",
)
def message_command(
    slug: str, audience: str, group: str | None, subject: str, body_file: str
) -> None:
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
        chosen = find_group(rnd, group) if group is not None else None
        message = send_round_message(
            rnd, audience, subject, body, sender="command line", group=chosen
        )
    except MessageError as exc:
        db.session.rollback()
        option = "--body-file" if exc.field == "body" else f"--{exc.field}"
        raise click.ClickException(f"{option}: {exc.message} (nothing was sent)") from None
    db.session.commit()
    to = f"{audience} of group {chosen.name!r}" if chosen else audience
    click.echo(f"queued {message.recipients} messages to {to} of {rnd.slug}")
