"""Applicants' links and steps that several tests take."""

from __future__ import annotations

from forum.extensions import db
from registration import admission
from registration.models import Application
from registration.tokens import Purpose, make_token


def status_path(application) -> str:
    return "/status/" + make_token(Purpose.STATUS, application.public_id)


def accept(write, application) -> None:
    """Admit the application and accept the offer (through the services, as a write path)."""
    write(admission.decide, db.session.get(Application, application.id), "admit")
    write(admission.accept_offer, db.session.get(Application, application.id))
