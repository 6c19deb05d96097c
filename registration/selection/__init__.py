"""Selection in review rounds (issue 9): reviews with scores per criterion, blind review, tags
and internal notes, the ranking, the proposal, staged decisions and their release.

- ``models.py``: reviews, staged decisions, tags, internal notes
- ``reviews.py``: a reviewer's queue, the review itself, what a reviewer may see (blind review)
- ``ranking.py``: the pure ranking and proposal logic (no database)
- ``staging.py``: staging decisions, the proposal and the release (under the round's lock)
- ``notes.py``: tags and internal notes
- ``views.py``, ``forms.py``: the organizers' pages
- ``privacy.py``: tags and notes in the privacy export and erasure
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from forum.privacy import register_personal_data

    from . import models, views  # noqa: F401
    from .privacy import erase_notes, export_notes

    app.register_blueprint(views.bp)
    register_personal_data(app, "application_notes", export_notes, erase_notes)
