"""Applications made without the HTTP round trip (plain functions; the ``make_application``
fixtures of the full suite and of the fast tier use them)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from forum.db import utcnow
from forum.extensions import db
from forum.models import Round
from registration import lifecycle
from registration.models import Actor, Application, Status
from registration.services import normalize_email, normalize_organisation

from . import application_data

#: Fields of the public form that are consents, not columns of an application.
FORM_ONLY = ("commitment", "privacy_consent")


def submitted_application(rnd: Round, n: int, **overrides) -> Application:
    """Person number ``n``'s confirmed application (status ``submitted``) to ``rnd``, made
    through the lifecycle and committed. The form's valid values (``application_data``) with a
    name, address and organisation of that number; ``overrides`` are columns of the
    application (``email=…``, ``state=…``, ``organisation=…``, ``locale=…``)."""
    data = application_data(
        first_name=f"Vorname{n}",
        last_name=f"Nachname{n}",
        email=f"person{n}@gemeinde-{n}.de",
        organisation=f"Gemeinde {n}",
    )
    data.update(overrides)
    for name in FORM_ONLY:
        data.pop(name, None)
    application = Application(
        round_id=rnd.id,
        email_normalized=normalize_email(data["email"]),
        organisation_normalized=normalize_organisation(data["organisation"]),
        commitment=True,
        privacy_consent_at=utcnow(),
        privacy_version="test",
        **data,
    )
    db.session.add(application)
    lifecycle.start(application)
    lifecycle.transition(application, Status.SUBMITTED, Actor.APPLICANT, "bestätigt")
    db.session.commit()
    return application


def application_factory() -> Callable[..., Application]:
    """``factory(rnd, **overrides)``: :func:`submitted_application` of the next person (1, 2,
    …), so that no two share an address."""
    numbers = itertools.count(1)

    def factory(rnd: Round, **overrides) -> Application:
        return submitted_application(rnd, next(numbers), **overrides)

    return factory
