"""Messages from the organizers to an audience of a round, through the outbox: one mail per
recipient (each address once), in the recipient's language frame (greeting, footer, status
link), the organizers' subject and Markdown body inside. Used by the organizer page and by
``flask round message``; both check their input with :func:`check_message`.

The audience is chosen in one place, :func:`recipients`: a name from :data:`AUDIENCES`, each a
set of statuses, optionally narrowed to one group of the round (consultation or focus group,
:mod:`registration.groups`); pages and the command take their choices from this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from forum.extensions import db
from forum.mail import RenderedMail, render_mail
from forum.models import Round

from .. import notifications
from ..lifecycle import HOLDING, LIVE, ON_WAITLIST, PARTICIPATING, UNCONFIRMED, Status, ordered
from ..models import Application, GroupMember, RoundGroup, RoundMessage


@dataclass(frozen=True)
class Audience:
    label: object  # a lazy string
    statuses: tuple[Status, ...]


AUDIENCES: dict[str, Audience] = {
    "accepted": Audience(_l("Teilnehmer*innen (Zusage)"), ordered(PARTICIPATING)),
    "seat_holders": Audience(_l("Alle mit Platz (angeboten oder zugesagt)"), ordered(HOLDING)),
    "waitlisted": Audience(_l("Warteliste"), ordered(ON_WAITLIST)),
    # Live, but not before the address is confirmed: unconfirmed addresses get no free text.
    "live": Audience(
        _l("Alle laufenden Bewerbungen (eingegangen, Warteliste, angeboten, zugesagt)"),
        ordered(LIVE - UNCONFIRMED),
    ),
}

SUBJECT_MAX = 200
BODY_MAX = 20_000


class MessageError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_message(audience: str, subject: str, body: str) -> tuple[str, str]:
    """The one check of a message's input; returns subject and body cleaned up."""
    if audience not in AUDIENCES:
        raise MessageError("audience", f"unknown audience; allowed: {', '.join(AUDIENCES)}")
    subject = (subject or "").strip()
    if not subject:
        raise MessageError("subject", "must not be empty")
    if any(ord(ch) < 32 or ch == "\x7f" for ch in subject):
        raise MessageError("subject", "must be one line without control characters")
    if len(subject) > SUBJECT_MAX:
        raise MessageError("subject", f"longer than {SUBJECT_MAX} characters")
    body = (body or "").replace("\r\n", "\n").strip("\n")
    if not body.strip():
        raise MessageError("body", "must not be empty")
    if "\x00" in body:
        raise MessageError("body", "contains a NUL character")
    if len(body) > BODY_MAX:
        raise MessageError("body", f"longer than {BODY_MAX} characters")
    return subject, body


def _selection(round_id: int, audience: str, group: RoundGroup | None = None):
    statuses = [s.value for s in AUDIENCES[audience].statuses]
    conditions = [Application.round_id == round_id, Application.status.in_(statuses)]
    if group is not None:
        conditions.append(
            Application.id.in_(
                select(GroupMember.application_id).where(GroupMember.group_id == group.id)
            )
        )
    return conditions


def find_group(rnd: Round, name: str) -> RoundGroup:
    """The round's group of that name; a :class:`MessageError` naming ``group`` if none."""
    group = db.session.scalar(
        select(RoundGroup).where(RoundGroup.round_id == rnd.id, RoundGroup.name == name.strip())
    )
    if group is None:
        names = db.session.scalars(
            select(RoundGroup.name).where(RoundGroup.round_id == rnd.id).order_by(RoundGroup.name)
        ).all()
        raise MessageError(
            "group", f"no group {name!r} in this round; groups: {', '.join(names) or 'none'}"
        )
    return group


def recipients(rnd: Round, audience: str, group: RoundGroup | None = None) -> list[Application]:
    """The applications a message to ``audience`` (of ``group``) goes to, each address once."""
    seen: set[str] = set()
    result = []
    for application in db.session.scalars(
        select(Application).where(*_selection(rnd.id, audience, group)).order_by(Application.id)
    ):
        if application.email_normalized not in seen:
            seen.add(application.email_normalized)
            result.append(application)
    return result


def audience_counts(rnd: Round) -> dict[str, int]:
    return {
        name: db.session.scalars(
            select(func.count(func.distinct(Application.email_normalized))).where(
                *_selection(rnd.id, name)
            )
        ).one()
        for name in AUDIENCES
    }


def send_round_message(
    rnd: Round,
    audience: str,
    subject: str,
    body: str,
    sender: str,
    group: RoundGroup | None = None,
) -> RoundMessage:
    """Queue the message to every recipient and record it (the caller commits)."""
    subject, body = check_message(audience, subject, body)
    message = RoundMessage(
        round_id=rnd.id,
        audience=audience,
        group_name=group.name if group else "",
        subject=subject,
        body=body,
        sender=sender,
    )
    db.session.add(message)
    for application in recipients(rnd, audience, group):
        if notifications.notify_round_message(application, subject, body):
            message.recipients += 1
    db.session.flush()
    return message


def send_test_message(rnd: Round, subject: str, body: str, email: str, name: str, locale: str):
    """The message as a recipient would get it, to the organizer's own address."""
    subject, body = check_message("accepted", subject, body)
    return notifications.notify_round_message_test(rnd, subject, body, email, name, locale)


def preview(rnd: Round, subject: str, body: str, name: str, locale: str) -> RenderedMail:
    subject, body = check_message("accepted", subject, body)
    return render_mail(
        "round_message",
        locale,
        notifications.round_message_sample_context(rnd, subject, body, name),
    )


def round_groups(rnd: Round) -> list[RoundGroup]:
    return list(
        db.session.scalars(
            select(RoundGroup).where(RoundGroup.round_id == rnd.id).order_by(RoundGroup.name)
        )
    )


def sent_messages(rnd: Round) -> list[RoundMessage]:
    return list(
        db.session.scalars(
            select(RoundMessage)
            .where(RoundMessage.round_id == rnd.id)
            .order_by(RoundMessage.created_at.desc(), RoundMessage.id.desc())
        )
    )
