"""Database helpers the tests import (plain functions, no fixtures)."""

from __future__ import annotations

from forum.extensions import db


def empty_tables() -> None:
    """Every table emptied in one transaction; the session forgets the objects of before."""
    db.session.rollback()
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()
    db.session.expunge_all()  # ids start again at 1: forget the objects of before
