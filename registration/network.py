"""The participant network (issue 13): with the optional consent ``share_contact`` from the
application form, accepted participants of a round see each other's name, organisation and
role on their status page; without it, nobody sees them. The consent is stored with its time
and the version of its wording; withdrawing it on the status page takes effect at once.

Functions here change state; they never commit (the caller does)."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from forum.db import utcnow
from forum.extensions import db

from . import lifecycle
from .lifecycle import PARTICIPATING, participates, values
from .models import Actor, Application, Status

#: Bump when the wording below changes (stored with every consent).
SHARE_CONTACT_VERSION = "2026-11-30"
SHARE_CONTACT_TEXT = _l(
    "Wenn ich teilnehme, dürfen die anderen Teilnehmer*innen dieser Runde meinen Namen, meine "
    "Organisation und meine Rolle sehen (freiwillig; jederzeit auf der Statusseite "
    "widerrufbar)."
)


def set_share_contact(application: Application, value: bool, now: datetime | None = None) -> bool:
    """Give or withdraw the consent; False if nothing changed. Recorded in the history."""
    if application.share_contact == value or application.anonymised_at is not None:
        return False
    application.share_contact = value
    application.share_contact_at = now or utcnow()
    if value:
        application.share_contact_version = SHARE_CONTACT_VERSION
    status = Status(application.status)
    lifecycle.record(
        application,
        status,
        Actor.APPLICANT,
        "Einwilligung in die Teilnehmendenliste erteilt"
        if value
        else "Einwilligung in die Teilnehmendenliste widerrufen",
        from_status=status,
    )
    return True


def visible_participants(application: Application) -> list[Application]:
    """The other accepted participants of the round who consented, for an accepted
    participant's status page; nobody for anyone else."""
    if not participates(application):
        return []
    return list(
        db.session.scalars(
            select(Application)
            .where(
                Application.round_id == application.round_id,
                Application.status.in_(values(PARTICIPATING)),
                Application.share_contact.is_(True),
                Application.anonymised_at.is_(None),
                Application.id != application.id,
            )
            .order_by(Application.last_name, Application.first_name, Application.id)
        )
    )


def participant_groups(application: Application, participants: list[Application]) -> dict:
    """For the status page: the participant's own group and the groups of those listed."""
    if not participates(application):
        return {"own_group": None, "participant_groups": {}}
    from .groups import membership

    groups = membership(application.round)
    own = groups.get(application.id)
    return {
        "own_group": own.name if own else None,
        "participant_groups": {p.id: [groups[p.id].name] for p in participants if p.id in groups},
    }
