"""What applicants do: apply, confirm their address, ask for a new link. Functions here change
state, record history and queue mail and leave the commit to the caller, except the maintenance
task :func:`expire_unconfirmed`, which commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from forum import suppression
from forum.db import begin_writes, lock_row, utcnow
from forum.extensions import db
from forum.mail import normalize_email
from forum.models import OutboxMessage, Round, RoundFacts
from forum.newsletter.services import subscription_request
from forum.outbox import MAIL_COLUMNS, mail_rows, note_queued
from forum.privacy import PRIVACY_VERSION

from . import admission, eligibility, invitations, lifecycle, notifications
from .models import (
    APPLICATION_FIELDS,
    LIVE,
    Actor,
    Application,
    ApplicationEvent,
    Status,
    _public_id,
)
from .network import SHARE_CONTACT_VERSION
from .tokens import Purpose, TokenExpired, TokenInvalid, read_token


def normalize_organisation(name: str) -> str:
    # casefold() may lengthen a name ("ß" -> "ss"): keep within the column.
    return " ".join(name.casefold().split())[:200]


class ApplyOutcome(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    NOT_OPEN = "not_open"
    INELIGIBLE = "ineligible"
    INVITATION_REQUIRED = "invitation_required"  # an invitation-only round, address not invited


@dataclass
class SubmitResult:
    outcome: ApplyOutcome
    application: Application | None = None  # the invitation path's stored or live one
    failures: list[eligibility.Failure] = field(default_factory=list)
    public_id: str | None = None  # the public form's new application (if it was stored)


def find_live(rnd: Round, email: str) -> Application | None:
    return db.session.scalar(
        select(Application).where(
            Application.round_id == rnd.id,
            Application.email_normalized == normalize_email(email),
            Application.status.in_(lifecycle.values(LIVE)),
        )
    )


def submit_application(
    rnd: Round | RoundFacts, data: dict, locale: str, now: datetime | None = None
) -> SubmitResult:
    """Store a new application (``pending_email``) and queue what decides its mail.

    Ineligible applications are not stored. A second live application for the same address
    is not stored either (the insert does nothing: :func:`_insert_application`). Both cases do
    the same work here (issue 12, finding 7): the same statements, and one outbox row that the
    flush job turns into the confirmation mail or, for a known address, a note to its owner
    (:func:`application_intake`); the caller shows the same page, so nobody learns whether an
    address has applied. Runs in a :func:`~forum.db.reads_first` view: everything before
    :func:`~forum.db.begin_writes` reads only."""
    now = now or utcnow()
    if not rnd.is_open(now):
        return SubmitResult(ApplyOutcome.NOT_OPEN)
    if rnd.invitation_only and invitations.find_invitation(rnd, data["email"]) is None:
        return SubmitResult(ApplyOutcome.INVITATION_REQUIRED)
    failures = eligibility.check(rnd, data["state"], data["role"], data["body_type"])
    if failures:
        return SubmitResult(ApplyOutcome.INELIGIBLE, failures=failures)
    values = application_values(rnd, data, locale, now)
    mails = [
        {
            "recipient": values["email"],
            "template": APPLICATION_INTAKE,
            "locale": locale,
            "context": {"public_id": values["public_id"], "round_id": rnd.id},
        }
    ]
    if data.get("newsletter"):
        # Its own double opt-in, with the newsletter's consent record, decided in the flush
        # job like the newsletter form's requests.
        name = f"{data.get('first_name', '')} {data.get('last_name', '')}".strip()
        subscription = subscription_request(data["email"], name, locale, "application_form", rnd.id)
        if subscription is not None:
            mails.append(subscription)
    # From here on under the write lock (SQLite): the rows, nothing else.
    begin_writes()
    created = _insert_application(values, now, mail_rows(mails))
    return SubmitResult(
        ApplyOutcome.CREATED if created else ApplyOutcome.DUPLICATE, public_id=values["public_id"]
    )


#: The outbox intake (:func:`forum.outbox.register_intake`) of the public form.
APPLICATION_INTAKE = "application_received"

_applications = cast(Table, Application.__table__)
_events = cast(Table, ApplicationEvent.__table__)
_outbox = cast(Table, OutboxMessage.__table__)
_LIVE_INDEX = next(i for i in _applications.indexes if i.name == "uq_application_live_email")
#: The first history row's columns, as lifecycle.start records it for an ORM object.
_FIRST_EVENT = ("at", "actor", "actor_label", "from_status", "to_status", "reason")


def _new_application(dialect: str, columns: dict) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` on the unique index of live applications."""
    make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        make_insert(_applications)
        .values(columns)
        .on_conflict_do_nothing(
            index_elements=[_applications.c.round_id, _applications.c.email_normalized],
            index_where=_LIVE_INDEX.dialect_options[dialect]["where"],
        )
    )


def _first_event(application_id: Any) -> Any:
    return select(
        application_id,
        *(bindparam(f"e_{name}", type_=_events.c[name].type) for name in _FIRST_EVENT),
    )


@cache
def _sqlite_statements() -> tuple[Executable, Executable]:
    """SQLite: the application and its first history row, built once with bound parameters
    (building and hashing a statement costs more than running it)."""
    event = insert(_events).from_select(
        ["application_id", *_FIRST_EVENT],
        _first_event(_applications.c.id).where(
            _applications.c.public_id == bindparam("b_public_id")
        ),
    )
    return _new_application("sqlite", {}), event


@cache
def _insert_outbox() -> Executable:
    return insert(_outbox)


@cache
def _postgres_statement(columns: tuple[str, ...], mails: int) -> Executable:
    """PostgreSQL: the application, its first history row and the outbox rows in one
    statement (one round trip; data-modifying CTEs), built once per shape."""
    new = (
        _new_application(
            "postgresql",
            {c: bindparam(f"a_{c}", type_=_applications.c[c].type) for c in columns},
        )
        .returning(_applications.c.id)
        .cte("new_application")
    )
    event = insert(_events).from_select(["application_id", *_FIRST_EVENT], _first_event(new.c.id))
    statement = select(func.count()).select_from(new).add_cte(event.cte("first_event"))
    for i in range(mails):  # one CTE per row: a multi-row VALUES is not cacheable
        row = {c: bindparam(f"m{i}_{c}", type_=_outbox.c[c].type) for c in MAIL_COLUMNS}
        statement = statement.add_cte(insert(_outbox).values(row).cte(f"mail_{i}"))
    return statement


def _insert_application(values: dict, now: datetime, mails: list[dict]) -> bool:
    """The application, its first history row and the outbox rows, in statements that are the
    same whether the address has a live application or not: the insert does nothing on the
    unique index of live applications (``ON CONFLICT DO NOTHING``; PostgreSQL waits for a
    parallel insert of the same address and then does nothing, SQLite holds the write lock),
    and the history row finds no row then. True if it was stored."""
    event = {
        "e_at": now,
        "e_actor": Actor.APPLICANT.value,
        "e_actor_label": "",
        "e_from_status": None,
        "e_to_status": Status.PENDING_EMAIL.value,
        "e_reason": "",
    }
    if db.session.get_bind().dialect.name == "postgresql":
        statement = _postgres_statement(tuple(values), len(mails))
        params = {f"a_{k}": v for k, v in values.items()} | event
        for i, row in enumerate(mails):
            params.update({f"m{i}_{c}": row[c] for c in MAIL_COLUMNS})
        stored = db.session.execute(statement, params).scalar_one()
        note_queued(len(mails))
        return stored == 1
    # On the session's connection: Core statements need none of the session's ORM steps.
    conn = db.session.connection()
    application, first_event = _sqlite_statements()
    result = conn.execute(application, values)
    conn.execute(first_event, {"b_public_id": values["public_id"], **event})
    for row in mails:  # one row, two with the newsletter's (an executemany costs more)
        conn.execute(_insert_outbox(), row)
    note_queued(len(mails))
    return result.rowcount == 1


def application_intake(recipient: str, locale: str, context: dict) -> None:
    """The flush job's handler of the public form's outbox row: the confirmation mail for an
    application stored by it (unless it expired meanwhile; an invitation to that address is
    answered by it), else the note to the owner of the live application for that address (at
    most one an hour), else nothing (it was withdrawn meanwhile)."""
    application = _application_by_public_id(context["public_id"])
    if application is not None:
        invitations.link_application(application.round, application)
        if application.status == Status.PENDING_EMAIL:
            notifications.notify_confirm_email(application)
        return
    rnd = db.session.get(Round, context["round_id"])
    existing = find_live(rnd, recipient) if rnd is not None else None
    if existing is not None:
        notifications.notify_already_applied(existing, locale)


def application_values(rnd: Round | RoundFacts, data: dict, locale: str, now: datetime) -> dict:
    """The columns of a new application from the form's data (status ``pending_email``)."""
    values = {name: (data.get(name) or "") for name in APPLICATION_FIELDS}
    return {
        **values,
        "round_id": rnd.id,
        "status": Status.PENDING_EMAIL.value,
        "locale": locale,
        "email_normalized": normalize_email(values["email"]),
        "organisation_normalized": normalize_organisation(values["organisation"]),
        "commitment": bool(data.get("commitment")),
        "privacy_consent_at": now,
        "privacy_version": PRIVACY_VERSION,
        "newsletter_requested": bool(data.get("newsletter")),
        "share_contact": bool(data.get("share_contact")),
        "share_contact_at": now if data.get("share_contact") else None,
        "share_contact_version": SHARE_CONTACT_VERSION if data.get("share_contact") else "",
        "created_at": now,
        "updated_at": now,
        "confirm_deadline": now + timedelta(hours=rnd.confirm_hours),
        "public_id": _public_id(),  # now, not at the insert: the mail's links carry it
    }


def store_application(
    rnd: Round, data: dict, locale: str, now: datetime, confirmed: bool = False
) -> SubmitResult:
    """Store an application through a personal invitation link (the address is known to be
    the applicant's: the link came to it), ``submitted`` at once, without a confirmation mail;
    the caller holds the round's lock (a first-come round offers a seat at once)."""
    existing = find_live(rnd, data["email"])
    if existing is not None:
        notifications.notify_already_applied(existing, locale)
        return SubmitResult(ApplyOutcome.DUPLICATE, existing)
    application = Application(**application_values(rnd, data, locale, now))
    try:
        with db.session.begin_nested():
            db.session.add(application)
            lifecycle.start(application)
            db.session.flush()
    except IntegrityError:
        # A parallel request for the same address won the race (PostgreSQL waits for it
        # on the unique index, then refuses this row). Same answer as any duplicate.
        existing = find_live(rnd, data["email"])
        if existing is None:
            raise
        notifications.notify_already_applied(existing, locale)
        return SubmitResult(ApplyOutcome.DUPLICATE, existing)
    invitations.link_application(rnd, application)
    if confirmed:
        lifecycle.transition(
            application,
            Status.SUBMITTED,
            Actor.APPLICANT,
            "Über die persönliche Einladung beworben (Adresse durch den Link bestätigt)",
            now=now,
        )
        admission.admit_on_confirm(application, rnd)
        if application.status == Status.SUBMITTED:
            notifications.notify_submitted(application)
        return SubmitResult(ApplyOutcome.CREATED, application)
    notifications.notify_confirm_email(application)
    return SubmitResult(ApplyOutcome.CREATED, application)


def pending_form_data(rnd: Round, public_id: str | None) -> dict:
    """The answers of an application still waiting for its address to be confirmed, to fill
    the form again (the person noticed a typo in the address); empty once it moved on."""
    if not public_id:
        return {}
    application = _application_by_public_id(public_id)
    if application is None or application.round_id != rnd.id:
        return {}
    if application.status != Status.PENDING_EMAIL:
        return {}
    data = {name: getattr(application, name) for name in APPLICATION_FIELDS}
    # The consent is asked again: a box ticked for the person is no consent.
    data.update(commitment=application.commitment, newsletter=application.newsletter_requested)
    return data


class ConfirmOutcome(StrEnum):
    READY = "ready"  # valid, still to be confirmed (the GET page shows the button)
    CONFIRMED = "confirmed"
    ALREADY = "already"  # used before: the application has moved on
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass
class ConfirmResult:
    outcome: ConfirmOutcome
    application: Application | None = None


def _application_by_public_id(public_id: str) -> Application | None:
    return db.session.scalar(select(Application).where(Application.public_id == public_id))


def check_confirm_token(token: str, now: datetime | None = None) -> ConfirmResult:
    """Classify a confirmation link without changing anything."""
    now = now or utcnow()
    try:
        payload = read_token(Purpose.CONFIRM, token)
    except TokenInvalid:
        return ConfirmResult(ConfirmOutcome.INVALID)
    except TokenExpired:  # cannot happen without max_age; kept for clarity
        return ConfirmResult(ConfirmOutcome.INVALID)
    application = _application_by_public_id(payload["a"])
    if application is None:
        return ConfirmResult(ConfirmOutcome.INVALID)
    if not lifecycle.can(application, Status.SUBMITTED, Actor.APPLICANT):
        if application.status == Status.EXPIRED:
            return ConfirmResult(ConfirmOutcome.EXPIRED, application)
        return ConfirmResult(ConfirmOutcome.ALREADY, application)
    # The link is good for confirm_hours after it was made, and never after the deadline
    # the maintenance run enforces.
    try:
        read_token(Purpose.CONFIRM, token, max_age=application.round.confirm_hours * 3600)
    except TokenExpired:
        return ConfirmResult(ConfirmOutcome.EXPIRED, application)
    if application.confirm_deadline and application.confirm_deadline < now:
        return ConfirmResult(ConfirmOutcome.EXPIRED, application)
    return ConfirmResult(ConfirmOutcome.READY, application)


def confirm_application(token: str, now: datetime | None = None) -> ConfirmResult:
    """The POST behind the confirmation link: ``pending_email`` -> ``submitted``; in a
    ``first_come`` round then at once ``offered`` while seats are free, else ``waitlisted``."""
    result = check_confirm_token(token, now)
    if result.outcome != ConfirmOutcome.READY:
        return result
    application = result.application
    assert application is not None  # READY carries the application
    # Under the round's lock: two clicks on the link, or first-come applicants confirming at
    # the same moment, are serialized; the status read before the lock may be stale.
    rnd = admission.lock_round(application.round_id)
    application = lock_row(Application, application.id)  # against a parallel expiry
    if not lifecycle.can(application, Status.SUBMITTED, Actor.APPLICANT):
        return ConfirmResult(ConfirmOutcome.ALREADY, application)
    if application.confirm_deadline and application.confirm_deadline < (now or utcnow()):
        return ConfirmResult(ConfirmOutcome.EXPIRED, application)
    lifecycle.transition(
        application, Status.SUBMITTED, Actor.APPLICANT, "E-Mail-Adresse bestätigt", now=now
    )
    admission.admit_on_confirm(application, rnd)
    if application.status == Status.SUBMITTED:
        notifications.notify_submitted(application)
    return ConfirmResult(ConfirmOutcome.CONFIRMED, application)


def resend_confirmation(token: str, now: datetime | None = None) -> ConfirmResult:
    """An expired (but genuine) link asks for a new one: still-pending applications get a
    fresh deadline and a new mail. Expired applications cannot be revived: the page offers to
    apply again."""
    now = now or utcnow()
    result = check_confirm_token(token, now)
    if (
        result.outcome != ConfirmOutcome.EXPIRED
        or result.application is None  # EXPIRED carries the application
        or not result.application.round.is_open(now)
    ):
        return result
    # Locked and read again: the maintenance run may be expiring it right now.
    application = lock_row(Application, result.application.id)
    if application.status == Status.PENDING_EMAIL:
        application.confirm_deadline = now + timedelta(hours=application.round.confirm_hours)
        lifecycle.record(
            application,
            Status.PENDING_EMAIL,
            Actor.APPLICANT,
            "Neuen Bestätigungslink angefordert",
            from_status=Status.PENDING_EMAIL,
        )
        notifications.notify_confirm_email(application)
        return ConfirmResult(ConfirmOutcome.READY, application)
    return result


def expire_unconfirmed(now: datetime | None = None) -> int:
    """Maintenance: applications not confirmed in time become ``expired``."""
    now = now or utcnow()
    ids = list(
        db.session.scalars(
            select(Application.id).where(
                Application.status == Status.PENDING_EMAIL,
                Application.confirm_deadline < now,
            )
        )
    )
    count = 0
    for application_id in ids:
        # Locked and checked again: a confirmation or a new link may have come in meanwhile.
        application = lock_row(Application, application_id)
        if (
            lifecycle.can(application, Status.EXPIRED, Actor.SYSTEM)
            and application.confirm_deadline is not None
            and application.confirm_deadline < now
        ):
            lifecycle.transition(
                application,
                Status.EXPIRED,
                Actor.SYSTEM,
                "Nicht rechtzeitig bestätigt",
            )
            count += 1
    db.session.commit()
    return count


def application_for_status_token(token: str) -> Application | None:
    try:
        payload = read_token(Purpose.STATUS, token)
    except (TokenInvalid, TokenExpired):
        return None
    return _application_by_public_id(payload["a"])


def application_for_offer_token(token: str) -> Application | None:
    """The application an offer link names. Offer links do not expire by themselves: the
    offer's deadline (in the database) decides, and an application is offered a seat at most
    once, so the status tells whether the link may still act."""
    try:
        payload = read_token(Purpose.OFFER, token)
    except (TokenInvalid, TokenExpired):
        return None
    return _application_by_public_id(payload["a"])


def lift_suppression(application: Application, organizer, reason: str) -> bool:
    """Take the application's address off the suppression list (held mails to it go out
    again), with a note in the application's history. False if it was not on the list."""
    if not suppression.lift(application.email, reason, by=organizer.email):
        return False
    status = Status(application.status)
    lifecycle.record(
        application,
        status,
        Actor.ORGANIZER,
        f"Adresssperre aufgehoben: {reason}",
        actor_label=organizer.email,
        from_status=status,
    )
    return True
