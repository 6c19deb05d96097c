"""Organizer sessions (Flask-Login)."""

from __future__ import annotations

from .extensions import db, login
from .models import Organizer


@login.user_loader
def load_organizer(user_id: str) -> Organizer | None:
    organizer_id, _, token = (user_id or "").partition(":")
    if not organizer_id.isdigit():
        return None
    organizer = db.session.get(Organizer, int(organizer_id))
    if organizer is None or not organizer.active or organizer.session_token != token:
        return None
    return organizer
