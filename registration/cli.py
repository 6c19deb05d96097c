"""Command line of the registration: ``flask round invite``."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from forum.extensions import db
from forum.models import Round

from .invitations import InvitationFileError, invite, read_file

round_cli = AppGroup("round", help="Rounds: invitations.")


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
