"""Bounces and complaints: VERP envelope senders, and the reading of what comes back.

With ``BOUNCE_ADDRESS`` (``bounces@example.org``) every mail's envelope sender is
``bounces+<token>@example.org``; the token names the outbox message (``o<id>``) or newsletter
delivery (``d<id>``) and is signed with ``SECRET_KEY`` and its own salt (``bounce-verp``), in
lower-case hex so that mail servers that fold the case of local parts do not break it. A bounce
that names no validly signed token (a forged one, or mail that is no answer to ours) changes
nothing.

:func:`process_message` reads one message: an ARF feedback report (RFC 5965) is a complaint; a
delivery status notification (RFC 3464) is a hard bounce (``Action: failed``, status 5.x.x) or
a soft one (4.x.x, ``delayed``); other formats are left to flufl.bounce (its detectors for the
many non-standard bounces), whose permanent failures are hard and temporary ones soft. An
auto-reply is none of these and is ignored. ``bounces serve`` runs an aiosmtpd server for the
bounce address, ``bounces import`` reads ``.eml`` files, an mbox or a Maildir; both go through
:func:`process_message`, and a message seen before (by its Message-ID) changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import mailbox
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from email.utils import collapse_rfc2231_value, parseaddr
from enum import StrEnum
from pathlib import Path
from typing import Any

from flask import current_app
from flufl.bounce import all_failures
from itsdangerous import BadSignature, Signer
from sqlalchemy import select

from .extensions import db
from .models import MailEvent, MailEventKind, OutboxMessage
from .suppression import record_event
from .tokens import register_purposes

log = logging.getLogger(__name__)


class BouncePurpose(StrEnum):
    VERP = "bounce-verp"  # signed by _HexSigner below (hex, SECRET_KEY only), salt registered


register_purposes(BouncePurpose, timed=False)
SALT = BouncePurpose.VERP.value


class _HexSigner(Signer):
    """itsdangerous' key derivation with a lower-case hex signature (case-folding safe)."""

    def get_signature(self, value: str | bytes) -> bytes:
        if isinstance(value, str):
            value = value.encode()
        return hmac.new(self.derive_key(), value, hashlib.sha256).hexdigest()[:24].encode()

    def verify_signature(self, value: str | bytes, sig: str | bytes) -> bool:
        if isinstance(sig, str):
            sig = sig.encode()
        return hmac.compare_digest(sig, self.get_signature(value))


def _signer() -> _HexSigner:
    return _HexSigner(current_app.config["SECRET_KEY"], salt=SALT, sep=".")


def verp_sender(kind: str, item_id: int) -> str | None:
    """``bounces+o12.…@example.org`` for outbox message 12; None without ``BOUNCE_ADDRESS``."""
    bounce = current_app.config["BOUNCE_ADDRESS"]
    if not bounce:
        return None
    local, _, domain = bounce.rpartition("@")
    token = _signer().sign(f"{kind}{int(item_id)}").decode()
    return f"{local}+{token}@{domain}"


_TOKEN = re.compile(r"([a-z0-9._=-]+)\+([od][0-9]+\.[0-9a-f]{24})@([a-z0-9.-]+)", re.IGNORECASE)


@dataclass
class Reference:
    kind: str  # "o" (outbox message) or "d" (newsletter delivery)
    item_id: int


def read_token(text: str) -> Reference | None:
    """The first validly signed VERP token for our bounce address in ``text``."""
    bounce = current_app.config["BOUNCE_ADDRESS"]
    if not bounce:
        return None
    local, _, domain = bounce.lower().rpartition("@")
    for match in _TOKEN.finditer(text or ""):
        if match.group(1).lower() != local or match.group(3).lower() != domain:
            continue
        try:
            value = _signer().unsign(match.group(2).lower()).decode()
        except BadSignature:
            continue
        return Reference(value[0], int(value[1:]))
    return None


# --- classification ------------------------------------------------------------------------------


@dataclass
class Verdict:
    kind: MailEventKind | None  # None: not a bounce or complaint (an auto-reply, say)
    detail: str = ""


def _is_arf(msg: Message) -> bool:
    if msg.get_content_type() == "multipart/report":
        if collapse_rfc2231_value(msg.get_param("report-type") or "").lower() == "feedback-report":
            return True
    return any(part.get_content_type() == "message/feedback-report" for part in msg.walk())


def _dsn_fields(msg: Message) -> list[dict[str, str]] | None:
    """The per-recipient fields of an RFC 3464 report, or None if it has no status part."""
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks: list[dict[str, str]] = []
        payload = part.get_payload()
        if isinstance(payload, list):  # the email package parses the blocks as messages
            for block in payload:
                if isinstance(block, Message):
                    blocks.append({k.lower(): str(v) for k, v in block.items()})
        else:
            text = payload if isinstance(payload, str) else ""
            for chunk in re.split(r"\r?\n\s*\r?\n", text):
                fields = {}
                for line in chunk.splitlines():
                    name, sep, value = line.partition(":")
                    if sep:
                        fields[name.strip().lower()] = value.strip()
                blocks.append(fields)
        return [b for b in blocks if "action" in b or "status" in b]
    return None


def classify(msg: Message) -> Verdict:
    if _is_arf(msg):
        feedback = ""
        for part in msg.walk():
            if part.get_content_type() == "message/feedback-report":
                payload = part.get_payload()
                if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                    feedback = str(payload[0].get("Feedback-Type", ""))
                else:
                    found = re.search(r"Feedback-Type:\s*(\S+)", str(payload), re.IGNORECASE)
                    feedback = found.group(1) if found else ""
        return Verdict(MailEventKind.COMPLAINT, f"ARF {feedback or 'abuse'}".strip())
    fields = _dsn_fields(msg)
    if fields:
        hard = soft = None
        for block in fields:
            action = block.get("action", "").lower()
            status = block.get("status", "").split(" ")[0]
            diag = block.get("diagnostic-code", "")
            detail = " ".join(x for x in (status, diag) if x)[:500]
            if action == "failed" and not status.startswith("4"):
                hard = hard or detail or "failed"
            elif action in ("failed", "delayed") or status.startswith("4"):
                soft = soft or detail or action
        if hard:
            return Verdict(MailEventKind.HARD_BOUNCE, f"DSN {hard}")
        if soft:
            return Verdict(MailEventKind.SOFT_BOUNCE, f"DSN {soft}")
        return Verdict(None, "DSN without a failure (relayed or delivered)")
    temporary, permanent = all_failures(msg)
    if permanent:
        return Verdict(MailEventKind.HARD_BOUNCE, "permanent failure (flufl.bounce)")
    if temporary:
        return Verdict(MailEventKind.SOFT_BOUNCE, "temporary failure (flufl.bounce)")
    return Verdict(None, "no bounce found")


# --- processing ----------------------------------------------------------------------------------


@dataclass
class Result:
    outcome: str  # "recorded", "duplicate", "ignored"
    detail: str = ""


def _target(ref: Reference) -> tuple[str, dict] | None:
    """The address a reference names, and the ids for the event."""
    if ref.kind == "o":
        message = db.session.get(OutboxMessage, ref.item_id)
        return (message.recipient, {"outbox_message_id": message.id}) if message else None
    from .newsletter.models import Delivery, Subscriber

    row = db.session.execute(
        select(Subscriber.email, Delivery.id, Delivery.announcement_id)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.id == ref.item_id)
    ).one_or_none()
    if row is None:
        return None
    return row.email, {"delivery_id": row.id, "announcement_id": row.announcement_id}


def _dedupe_key(msg: Message, raw: bytes) -> str:
    message_id = str(msg.get("Message-ID", "")).strip()
    if message_id:
        return ("mid:" + message_id)[:200]
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def process_message(raw: bytes, recipients: list[str] | None = None, source: str = "") -> Result:
    """Read one bounce or complaint and record it (in the current transaction; the caller
    commits)."""
    msg = message_from_bytes(raw, policy=policy.compat32)
    ref = None
    for candidate in recipients or []:  # the envelope (the SMTP server)
        ref = ref or read_token(candidate)
    for header in ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Return-Path"):
        for value in msg.get_all(header, []) if ref is None else []:
            ref = ref or read_token(parseaddr(str(value))[1] or str(value))
    if ref is None:  # an ARF report or a DSN quotes the original message's headers
        ref = read_token(raw.decode("utf-8", "replace"))
    if ref is None:
        return Result("ignored", "no validly signed VERP address")
    key = _dedupe_key(msg, raw)
    if db.session.scalar(select(MailEvent.id).where(MailEvent.dedupe_key == key)):
        return Result("duplicate", key)
    target = _target(ref)
    if target is None:
        return Result("ignored", "the message it names is gone")
    verdict = classify(msg)
    if verdict.kind is None:
        return Result("ignored", verdict.detail)
    address, ids = target
    record_event(verdict.kind, address, verdict.detail, source, dedupe_key=key, **ids)
    return Result("recorded", f"{verdict.kind.value} {address}")


# --- import and serve ----------------------------------------------------------------------------


def _messages(path: Path):
    """Raw messages in a file (.eml, or an mbox) or a folder (a Maildir, or .eml files)."""
    if path.is_dir():
        if (path / "cur").is_dir() and (path / "new").is_dir():
            box: mailbox.Mailbox[Any] = mailbox.Maildir(str(path), factory=None, create=False)
            for key in box.iterkeys():
                yield f"{path}:{key}", box.get_bytes(key)
            return
        for file in sorted(path.glob("*.eml")):
            yield str(file), file.read_bytes()
        return
    head = path.read_bytes()[:5]
    if head == b"From ":
        box = mailbox.mbox(str(path), create=False)
        for key in box.iterkeys():
            yield f"{path}:{key}", box.get_bytes(key)
        return
    yield str(path), path.read_bytes()


def import_path(path: str) -> list[tuple[str, Result]]:
    """Process every message under ``path``, one transaction each."""
    results = []
    for name, raw in _messages(Path(path)):
        try:
            result = process_message(raw, source="import")
            db.session.commit()
        except Exception as exc:  # one broken message must not stop the import
            db.session.rollback()
            log.exception("bounce %s could not be processed", name)
            result = Result("error", f"{type(exc).__name__}: {exc}")
        results.append((name, result))
    return results


class BounceHandler:
    """aiosmtpd handler: accepts mail for the bounce address only, processes it in the app."""

    def __init__(self, app):
        self.app = app

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        with self.app.app_context():
            local, _, domain = (self.app.config["BOUNCE_ADDRESS"] or "").lower().rpartition("@")
        got_local, _, got_domain = address.lower().rpartition("@")
        if got_domain != domain or got_local.split("+", 1)[0] != local:
            return "550 5.1.1 not a bounce address here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.app.app_context():
            try:
                result = process_message(
                    envelope.original_content or envelope.content,
                    recipients=list(envelope.rcpt_tos),
                    source="serve",
                )
                db.session.commit()
            except Exception:
                db.session.rollback()
                log.exception("a bounce could not be processed")
                return "451 4.3.0 could not process, try again later"
            finally:
                db.session.remove()
        log.info("bounce: %s %s", result.outcome, result.detail)
        return "250 OK"


def serve(app, host: str, port: int) -> None:
    """Run the bounce receiver until interrupted."""
    import signal
    import threading

    from aiosmtpd.controller import Controller

    controller = Controller(BounceHandler(app), hostname=host, port=port)
    controller.start()
    print(f"receiving bounces for {app.config['BOUNCE_ADDRESS']} on {host}:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
