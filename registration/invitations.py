"""Invitations (issue 13): personal invitations to a round, from a CSV file (``flask round
invite``) or the round's organizer page.

Each new row becomes an :class:`~registration.models.Invitation` and an invitation mail with
the link ``/invitations/<token>``. The link opens the round's form prefilled and is bound to the
invited address: an application through it for that address is ``submitted`` at once (the link
came to that address, so no confirmation mail is needed). A forwarded invitation used with
another address is refused in an ``invitation_only`` round and is an ordinary application in an
open one. Invitees who have not answered get one reminder after the round's
``invitation_reminder_days`` (from the maintenance run).

Functions here change state and queue mail; they do not commit, except the maintenance task
:func:`send_invitation_reminders`, which commits each reminder on its own.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from forum.codes import BODY_TYPES, ROLES, STATES
from forum.db import execute_dml, lock_row, utcnow
from forum.extensions import db
from forum.mail import InvalidAddress, normalize_email, valid_address
from forum.models import Round, RoundFacts
from forum.privacy import finished_before

from . import admission, eligibility, notifications
from .models import Application, Invitation
from .tokens import Purpose, TokenExpired, TokenInvalid, make_token, read_token

COLUMNS = ("email", "first_name", "last_name", "organisation", "state", "role", "body_type")
REQUIRED_COLUMNS = ("email", "first_name", "last_name")
MAX_ROWS = 5000
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LENGTHS = {"first_name": 100, "last_name": 100, "organisation": 200}


class InvitationFileError(ValueError):
    """The file as a whole cannot be read (nobody is invited). The reasons here and those of
    the rows are German source strings, shown in the language of the page (the command line:
    the default language)."""


@dataclass
class InviteReport:
    invited: int = 0
    present: int = 0  # invited before: nobody is invited twice
    errors: list[tuple[int, str]] = field(default_factory=list)


def invitation_token(invitation: Invitation) -> str:
    return make_token(Purpose.INVITATION, invitation.public_id)


def invitation_for_token(token: str) -> Invitation | None:
    try:
        payload = read_token(Purpose.INVITATION, token)
    except (TokenInvalid, TokenExpired):
        return None
    return db.session.scalar(select(Invitation).where(Invitation.public_id == payload["a"]))


def find_invitation(rnd: Round | RoundFacts, email: str) -> Invitation | None:
    return db.session.scalar(
        select(Invitation).where(
            Invitation.round_id == rnd.id,
            Invitation.email_normalized == normalize_email(email),
        )
    )


# --- the file --------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvitationFileError(
            _("die Datei ist kein UTF-8-Text (Byte %(byte)d)", byte=exc.start)
        ) from None


def read_file(path: str | Path) -> str:
    try:
        return decode(Path(path).read_bytes())
    except OSError as exc:
        raise InvitationFileError(
            _("die Datei lässt sich nicht lesen: %(reason)s", reason=exc.strerror or exc)
        ) from None


def _row_values(rnd: Round, raw: dict[str, str]) -> dict[str, str]:
    """One row's values, checked; raises ValueError with the reason."""
    values = {name: " ".join((raw.get(name) or "").split()) for name in COLUMNS}
    for name in REQUIRED_COLUMNS:
        if not values[name]:
            raise ValueError(_("%(column)s ist leer", column=name))
    for name, value in values.items():
        if CONTROL.search(value):
            raise ValueError(_("%(column)s enthält ein Steuerzeichen", column=name))
        if name in LENGTHS and len(value) > LENGTHS[name]:
            raise ValueError(
                _("%(column)s ist länger als %(max)d Zeichen", column=name, max=LENGTHS[name])
            )
    try:
        values["email"] = valid_address(values["email"])
    except InvalidAddress as exc:
        raise ValueError(
            _(
                "ungültige E-Mail-Adresse %(address)r (%(reason)s)",
                address=values["email"],
                reason=exc,
            )
        ) from None
    for name, table, accepted in (
        ("state", STATES, rnd.states),
        ("role", ROLES, rnd.roles),
        ("body_type", BODY_TYPES, rnd.body_types),
    ):
        code = values[name]
        if not code:
            continue
        if code not in table:
            raise ValueError(_("%(column)s: unbekannter Code %(code)r", column=name, code=code))
        if accepted and code not in accepted:
            raise ValueError(
                _(
                    "%(column)s %(code)r ist in dieser Runde nicht zugelassen",
                    column=name,
                    code=code,
                )
            )
    return values


def parse(rnd: Round, content: str) -> tuple[list[tuple[int, dict]], list[tuple[int, str]]]:
    """The file's good rows (line, values) and its bad ones (line, reason). UTF-8, comma or
    semicolon separated, a header row naming the columns."""
    first = content.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InvitationFileError(_("die Datei ist leer")) from None
    except csv.Error as exc:
        raise InvitationFileError(
            _("Zeile 1 lässt sich nicht lesen: %(reason)s", reason=exc)
        ) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InvitationFileError(
            _(
                "Zeile 1: der Kopfzeile fehlen die Spalten %(missing)s (nötig sind "
                "%(required)s, möglich außerdem %(optional)s)",
                missing=", ".join(missing),
                required=", ".join(REQUIRED_COLUMNS),
                optional=", ".join(c for c in COLUMNS if c not in REQUIRED_COLUMNS),
            )
        )
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise InvitationFileError(
            _("Zeile 1: unbekannte Spalten %(columns)s", columns=", ".join(unknown))
        )
    if len(set(header)) != len(header):
        raise InvitationFileError(_("Zeile 1: eine Spalte kommt doppelt vor"))
    good: list[tuple[int, dict]] = []
    errors: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append((start, _("die Zeile lässt sich nicht lesen: %(reason)s", reason=exc)))
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue  # an empty line
        if len(cells) != len(header):
            errors.append(
                (
                    line,
                    _(
                        "%(expected)d Felder erwartet, %(found)d gefunden",
                        expected=len(header),
                        found=len(cells),
                    ),
                )
            )
            continue
        if len(good) >= MAX_ROWS:
            raise InvitationFileError(
                _("mehr als %(max)d Zeilen; bitte teilen Sie die Datei auf", max=MAX_ROWS)
            )
        try:
            values = _row_values(rnd, dict(zip(header, cells, strict=True)))
        except ValueError as exc:
            errors.append((line, str(exc)))
            continue
        key = normalize_email(values["email"])
        if key in seen:
            errors.append(
                (
                    line,
                    _(
                        "%(address)s kommt noch einmal vor (zuerst in Zeile %(line)d)",
                        address=values["email"],
                        line=seen[key],
                    ),
                )
            )
            continue
        seen[key] = line
        good.append((line, values))
    return good, errors


def invite(rnd: Round, content: str, by: str, locale: str = "de") -> InviteReport:
    """Invite every good row of the file not invited to the round before, each with its mail.
    Idempotent: a second run (also a parallel one) invites nobody twice."""
    rows, errors = parse(rnd, content)
    report = InviteReport(errors=errors)
    invited = set(
        db.session.scalars(select(Invitation.email_normalized).where(Invitation.round_id == rnd.id))
    )
    for _line, values in rows:
        key = normalize_email(values["email"])
        if key in invited:
            report.present += 1
            continue
        invitation = Invitation(
            round_id=rnd.id,
            email_normalized=key,
            locale=locale,
            created_at=utcnow(),
            created_by=by[:254],
            **values,
        )
        try:
            with db.session.begin_nested():
                db.session.add(invitation)
                db.session.flush()
        except IntegrityError:
            # A parallel run invited the address a moment ago (the unique index refused it).
            report.present += 1
            continue
        notifications.notify_invitation(invitation, invitation_token(invitation))
        report.invited += 1
    return report


# --- answering -------------------------------------------------------------------------------


class Answer(StrEnum):
    SUBMITTED = "submitted"  # through the invitation, no confirmation step
    ORDINARY = "ordinary"  # another address in an open round: the usual confirmation mail
    REFUSED = "refused"  # another address in an invitation-only round: nothing stored
    DUPLICATE = "duplicate"
    NOT_OPEN = "not_open"
    INELIGIBLE = "ineligible"


@dataclass
class AnswerResult:
    answer: Answer
    application: Application | None = None
    failures: list = field(default_factory=list)


def apply_with_invitation(
    invitation: Invitation, data: dict, locale: str, now: datetime | None = None
) -> AnswerResult:
    from . import services

    now = now or utcnow()
    rnd = invitation.round
    if not rnd.is_open(now):
        return AnswerResult(Answer.NOT_OPEN)
    if normalize_email(data["email"]) != invitation.email_normalized:
        if rnd.invitation_only:
            return AnswerResult(Answer.REFUSED)
        result = services.submit_application(rnd, data, locale, now)
        return AnswerResult(
            {
                services.ApplyOutcome.CREATED: Answer.ORDINARY,
                services.ApplyOutcome.DUPLICATE: Answer.ORDINARY,  # same page: nobody learns more
                services.ApplyOutcome.NOT_OPEN: Answer.NOT_OPEN,
                services.ApplyOutcome.INELIGIBLE: Answer.INELIGIBLE,
            }[result.outcome],
            result.application,
            result.failures,
        )
    failures = eligibility.check(rnd, data["state"], data["role"], data["body_type"])
    if failures:
        return AnswerResult(Answer.INELIGIBLE, failures=failures)
    # Under the round's lock: a double submit of the invitation is serialized, and a
    # first-come round counts its seats.
    rnd = admission.lock_round(rnd.id)
    invitation = lock_row(Invitation, invitation.id)
    result = services.store_application(rnd, data, locale, now, confirmed=True)
    if result.outcome == services.ApplyOutcome.DUPLICATE:
        return AnswerResult(Answer.DUPLICATE, result.application)
    assert result.application is not None  # a stored application comes with its result
    invitation.application = result.application
    return AnswerResult(Answer.SUBMITTED, result.application)


def decline(invitation: Invitation, now: datetime | None = None) -> bool:
    """The invitee says no (from the invitation page). False if they applied already."""
    invitation = lock_row(Invitation, invitation.id)
    if invitation.application_id is not None:
        return False
    if invitation.declined_at is None:
        invitation.declined_at = now or utcnow()
    return True


def link_application(rnd: Round, application) -> None:
    """An invited address applied through the public form: the invitation is answered."""
    with db.session.no_autoflush:  # the new application may still be unflushed (SQLite)
        invitation = find_invitation(rnd, application.email)
    if invitation is not None and invitation.application_id is None:
        invitation.application = application


# --- the organizers' view and the reminders ---------------------------------------------------


@dataclass
class Counts:
    invited: int = 0
    answered: int = 0
    declined: int = 0
    reminded: int = 0

    @property
    def open(self) -> int:
        return self.invited - self.answered - self.declined


def counts(rnd: Round) -> Counts:
    row = db.session.execute(
        select(
            func.count(),
            func.count(Invitation.application_id),
            func.count(Invitation.declined_at).filter(Invitation.application_id.is_(None)),
            func.count(Invitation.reminded_at),
        ).where(Invitation.round_id == rnd.id)
    ).one()
    return Counts(*row)


def listing(rnd: Round, limit: int = 500) -> list[Invitation]:
    return list(
        db.session.scalars(
            select(Invitation)
            .where(Invitation.round_id == rnd.id)
            .order_by(Invitation.id)
            .limit(limit)
        )
    )


def send_invitation_reminders(now: datetime | None = None) -> int:
    """Maintenance: one reminder to each invitee who has neither applied nor declined
    ``invitation_reminder_days`` after the invitation, while the round is open. Each reminder
    is claimed with a conditional UPDATE and committed with its mail, so two maintenance runs
    at the same time send it once."""
    now = now or utcnow()
    candidates = db.session.execute(
        select(Invitation.id, Invitation.created_at, Round.invitation_reminder_days)
        .join(Round, Round.id == Invitation.round_id)
        .where(
            Invitation.application_id.is_(None),
            Invitation.declined_at.is_(None),
            Invitation.reminded_at.is_(None),
            Round.opens <= now,
            Round.closes > now,
        )
        .order_by(Invitation.id)
    ).all()
    db.session.commit()
    sent = 0
    for invitation_id, created_at, days in candidates:
        if created_at > now - timedelta(days=days):
            continue
        claimed = execute_dml(
            update(Invitation)
            .where(
                Invitation.id == invitation_id,
                Invitation.reminded_at.is_(None),
                Invitation.application_id.is_(None),
                Invitation.declined_at.is_(None),
            )
            .values(reminded_at=now)
        )
        if claimed.rowcount == 1:
            invitation = db.session.get(Invitation, invitation_id)
            assert invitation is not None  # the claim above just updated its row
            notifications.notify_invitation_reminder(invitation, invitation_token(invitation))
            sent += 1
        db.session.commit()
    return sent


# --- privacy: export, erasure, retention (registered with forum.privacy / maintenance) ----------


def export_invitations(key: str) -> list[dict]:
    """Every invitation of the address (``key`` as :func:`forum.privacy.address_key` makes it)."""
    rows = db.session.scalars(
        select(Invitation).where(Invitation.email_normalized == key).order_by(Invitation.id)
    )
    return [
        {
            "round": i.round.slug,
            "round_title": i.round.title,
            "email": i.email,
            "first_name": i.first_name,
            "last_name": i.last_name,
            "organisation": i.organisation,
            "state": i.state,
            "role": i.role,
            "body_type": i.body_type,
            "invited_at": i.created_at.isoformat(),
            "invited_by": i.created_by,
            "reminded_at": i.reminded_at.isoformat() if i.reminded_at else None,
            "declined_at": i.declined_at.isoformat() if i.declined_at else None,
            "answer": i.answer,
        }
        for i in rows
    ]


def erase_invitations(key: str, reason: str) -> int:
    """Erasure on request: the invitations of the address are deleted. Does not commit."""
    result = execute_dml(delete(Invitation).where(Invitation.email_normalized == key))
    return result.rowcount or 0


def delete_finished_invitations(now: datetime | None = None) -> int:
    """Maintenance (retention): invitations of rounds that finished more than
    ``RETENTION_DAYS`` ago are deleted (the applications are anonymised alongside)."""
    now = now or utcnow()
    cutoff = now - timedelta(days=int(current_app.config["RETENTION_DAYS"]))
    rounds = db.session.scalars(
        select(Round).where(
            Round.closes < cutoff, Round.id.in_(select(Invitation.round_id).distinct())
        )
    ).all()
    ids = [rnd.id for rnd in rounds if finished_before(rnd) < cutoff]
    count = 0
    if ids:
        count = execute_dml(delete(Invitation).where(Invitation.round_id.in_(ids))).rowcount or 0
    db.session.commit()
    return count
