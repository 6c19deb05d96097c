"""Privacy (DSGVO): the privacy notice and its version, and what a person may ask for: an
export of everything stored about their address and its erasure.

The base does not know what the domain packages store. Each registers a provider with
:func:`register_personal_data`: ``export_fn(key) -> list[dict]`` (plain, JSON-serialisable
values) and ``erase_fn(key, reason) -> int`` (how many records it erased or anonymised;
changes state, never commits). ``key`` is the address as :func:`address_key` normalizes it.
The mail outbox belongs to the base and is handled here, after the providers (they may queue
mail, e.g. an offer to the person who moves up from the waitlist).

The retention clean-up of the outbox is here too; ``registration`` registers its own (the
applications of finished rounds)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, current_app, render_template
from sqlalchemy import delete, func, or_, select

from . import suppression
from .db import execute_dml, utcnow
from .extensions import db
from .mail import address_key
from .maintenance import register_task
from .models import OutboxMessage, Round

log = logging.getLogger(__name__)

#: Bump when the wording of the privacy notice or of a consent checkbox changes.
PRIVACY_VERSION = "2026-11-21"

ExportFn = Callable[[str], list[dict[str, Any]]]
EraseFn = Callable[[str, str], int]

_EXTENSION = "personal_data"


@dataclass(frozen=True)
class Provider:
    name: str
    export: ExportFn
    erase: EraseFn


def register_personal_data(app: Flask, name: str, export_fn: ExportFn, erase_fn: EraseFn) -> None:
    """Declare what a package stores about a person; export and erasure walk these in the
    order they were registered."""
    app.extensions.setdefault(_EXTENSION, {})[name] = Provider(name, export_fn, erase_fn)


#: ``link_fn(key, forum_ids) -> bool``: whether the address is tied to one of these forums
#: (e.g. an application to one of their rounds). Registered by the domain packages, so that
#: organizers may see what concerns their forums only.
ForumLinkFn = Callable[[str, set[int]], bool]


def register_forum_link(app: Flask, link_fn: ForumLinkFn) -> None:
    app.extensions.setdefault("forum_links", []).append(link_fn)


def address_in_forums(key: str, forum_ids: set[int]) -> bool:
    return bool(forum_ids) and any(
        fn(key, forum_ids) for fn in current_app.extensions.get("forum_links", [])
    )


def providers() -> list[Provider]:
    return list(current_app.extensions.get(_EXTENSION, {}).values())


def address_hash(key: str) -> str:
    """A keyed hash of the address for the log: the same address gives the same value, but the
    log does not reveal it (and a list of guessed addresses cannot be checked without the key)."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()[:16]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- export ------------------------------------------------------------------------------------


def _to_address(key: str):
    return func.lower(OutboxMessage.recipient) == key


def export_outbox(key: str) -> list[dict[str, Any]]:
    """Mails to the address: to whom, which mail, subject and times; not the text."""
    rows = db.session.scalars(
        select(OutboxMessage).where(_to_address(key)).order_by(OutboxMessage.id)
    )
    return [
        {
            "recipient": m.recipient,
            "template": m.template,
            "subject": m.subject,
            "state": m.state,
            "created_at": _iso(m.created_at),
            "sent_at": _iso(m.sent_at),
            "failed_at": _iso(m.failed_at),
        }
        for m in rows
    ]


def export_person(address: str) -> dict[str, Any]:
    """Everything the service stores about an address, one section per provider."""
    key = address_key(address)
    data = {p.name: p.export(key) for p in providers()}
    data["outbox"] = export_outbox(key)
    return {
        "email": key,
        "exported_at": utcnow().isoformat(),
        "found": any(data.values()),
        "ip_addresses": "not stored",
        "data": data,
    }


# --- erasure -----------------------------------------------------------------------------------


def erase_outbox(key: str, now: datetime | None = None) -> int:
    """Delete the mails to the address: sent, failed, and those still waiting that no worker
    holds (they would only carry the erased data out). A mail a worker is sending this very
    moment is left; erasing again later removes it."""
    now = now or utcnow()
    return execute_dml(
        delete(OutboxMessage)
        .where(
            _to_address(key),
            or_(
                OutboxMessage.sent_at.is_not(None),
                OutboxMessage.failed_at.is_not(None),
                OutboxMessage.claimed_until.is_(None),
                OutboxMessage.claimed_until < now,
            ),
        )
        .execution_options(synchronize_session=False)
    ).rowcount


@dataclass
class ErasureResult:
    key: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def erase_person(address: str, reason: str, by: str = "") -> ErasureResult:
    """Erase what is stored about an address (each provider decides how: applications are
    withdrawn and anonymised, newsletter records deleted), then the mails to it. Idempotent:
    a second run finds nothing. Does not commit. The log names counts and a keyed hash of the
    address, never the address."""
    key = address_key(address)
    result = ErasureResult(key)
    for provider in providers():
        result.counts[provider.name] = provider.erase(key, reason)
    result.counts["outbox"] = erase_outbox(key)
    log.info(
        "personal data erased: address hash %s, %s, by %s",
        address_hash(key),
        ", ".join(f"{name}={n}" for name, n in result.counts.items()),
        by or "unknown",
    )
    return result


# --- retention ---------------------------------------------------------------------------------


def finished_before(rnd: Round) -> datetime:
    """When a round is over for the retention clocks (applications, invitations): the end of
    its last meeting or its application deadline, whichever is later."""
    return max([rnd.closes, *(m.ends for m in rnd.meetings)])


def prune_outbox(now: datetime | None = None) -> int:
    """Maintenance: delete mails sent or failed more than ``OUTBOX_RETENTION_DAYS`` ago.
    Unsent mails stay whatever their age. Consent records keep their own copy of the
    confirmation mail."""
    now = now or utcnow()
    cutoff = now - timedelta(days=int(current_app.config["OUTBOX_RETENTION_DAYS"]))
    count = execute_dml(
        delete(OutboxMessage)
        .where(
            OutboxMessage.created_at < cutoff,
            or_(OutboxMessage.sent_at.is_not(None), OutboxMessage.failed_at.is_not(None)),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return count


# --- the notice --------------------------------------------------------------------------------

bp = Blueprint("privacy", __name__)


@bp.get("/datenschutz")
def notice():
    return render_template(
        "privacy.html",
        version=PRIVACY_VERSION,
        retention_days=int(current_app.config["RETENTION_DAYS"]),
        outbox_retention_days=int(current_app.config["OUTBOX_RETENTION_DAYS"]),
        pending_days=int(current_app.config["NEWSLETTER_PENDING_DAYS"]),
    )


def init_app(app: Flask) -> None:
    """The notice, the outbox's retention task, and the base's own personal data (bounces and
    suppressions). The admins' page (:mod:`forum.privacy_admin`) builds on this module and is
    registered by the factory."""
    app.register_blueprint(bp)
    register_task(app, "outbox_pruned", prune_outbox)
    register_personal_data(
        app, "mail_delivery", suppression.export_mail_delivery, suppression.erase_mail_delivery
    )
