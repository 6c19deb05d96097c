"""``flask newsletter announce ROUND_SLUG [--again]`` and ``flask newsletter import FILE.csv``."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from forum.extensions import db
from forum.models import Round

from . import announcements as ann
from .importer import ImportFileError, import_csv
from .jobs import enqueue_dispatch

newsletter_cli = AppGroup("newsletter", help="Newsletter: announce rounds, import a list.")


@newsletter_cli.command("announce")
@click.argument("round_slug")
@click.option("--again", is_flag=True, help="Announce a round that was announced before.")
def announce_command(round_slug: str, again: bool) -> None:
    """Announce a round to all confirmed subscribers (text prefilled from the round); prints
    the announcement id. The worker sends it."""
    rnd = db.session.scalar(select(Round).where(Round.slug == round_slug))
    if rnd is None:
        db.session.rollback()
        raise click.ClickException(f"no round with the slug {round_slug!r} (nothing was changed)")
    subject, body = ann.prefill(rnd)
    announcement = ann.create_announcement(rnd, subject, body, None)
    db.session.flush()
    try:
        ann.request_dispatch(announcement, again=again)
    except ann.AlreadyAnnounced as exc:
        db.session.rollback()
        ids = ", ".join(str(a.id) for a in exc.previous)
        raise click.ClickException(
            f"the round {round_slug} was announced before (announcement {ids}); "
            "use --again to announce it once more (nothing was changed)"
        ) from None
    db.session.commit()
    click.echo(announcement.id)
    if not enqueue_dispatch(announcement.id):
        click.echo(
            "warning: Redis is unreachable; `flask maintenance run` will start the dispatch",
            err=True,
        )


@newsletter_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
def import_command(path: str) -> None:
    """Import subscribers with documented consent from a CSV file (columns email, name,
    consented_at). Bad rows are reported with their line number; the others are imported;
    addresses already present are left alone. Exit status 1 if any row failed."""
    try:
        report = import_csv(path)
    except ImportFileError as exc:
        db.session.rollback()
        raise click.ClickException(f"{path}: {exc}") from None
    for line, reason in report.errors:
        click.echo(f"{path}:{line}: {reason}", err=True)
    click.echo(
        f"imported: {report.imported}, already present: {report.present}, "
        f"failed: {len(report.errors)}"
    )
    if report.errors:
        raise click.exceptions.Exit(1)
