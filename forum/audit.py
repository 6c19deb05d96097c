"""The audit log of organizer actions, and its page for admins (``/admin/audit``).

:func:`record` adds the entry to the current transaction, so it is stored exactly when the
action is. :func:`record_read` is for actions that only read (exports): it writes the entry in
a short transaction of its own before the data goes out."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select

from .auth import admin_required
from .db import reset_read_only, set_read_only
from .extensions import db
from .models import AuditEntry

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


def _entry(action: str, target: str, detail: str) -> AuditEntry:
    return AuditEntry(
        organizer_id=current_user.id if current_user.is_authenticated else None,
        actor=current_user.email if current_user.is_authenticated else "",
        action=action[:40],
        target=target[:200],
        detail=detail[:500],
    )


def record(action: str, target: str, detail: str = "") -> None:
    db.session.add(_entry(action, target, detail))


def record_read(action: str, target: str, detail: str = "") -> None:
    entry = _entry(action, target, detail)
    db.session.commit()  # end the page's read transaction
    token = set_read_only(False)
    try:
        db.session.add(entry)
        db.session.commit()
    finally:
        reset_read_only(token)


@bp.get("")
@admin_required
def index():
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(500)).all()
    return render_template("admin/audit.html", entries=entries)
