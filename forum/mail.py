"""Rendering and sending of e-mails.

Every mail is a pair of templates in ``mail_templates/``: ``<name>.<locale>.txt`` (whose
``subject`` block is the subject line) and ``<name>.<locale>.html``. Sending goes through
Flask-Mail with two repairs: bodies are quoted-printable (Flask-Mail sends UTF-8 as 8bit without
wrapping, and strict servers reject lines over 998 octets), and the SMTP connection has a
timeout (Flask-Mail opens it without one).
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import charset as email_charset
from email.mime.text import MIMEText
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from email_validator import EmailNotValidError, validate_email
from flask import Flask, current_app
from flask_babel import force_locale
from flask_mail import Connection
from flask_mail import Message as FlaskMailMessage

from . import formatting

MAIL_TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "mail_templates"


class MailHeaderError(ValueError):
    """A header value would inject further headers (CR or LF in it)."""


@dataclass
class RenderedMail:
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


class QuotedPrintableMessage(FlaskMailMessage):
    def _mimetext(self, text, subtype="plain"):
        cs = email_charset.Charset("utf-8")
        cs.header_encoding = email_charset.QP
        cs.body_encoding = email_charset.QP
        return MIMEText(text or "", _subtype=subtype, _charset=cs)


class TimeoutConnection(Connection):
    def configure_host(self):
        timeout = current_app.config["MAIL_TIMEOUT"]
        state = self.mail
        if state.use_ssl:
            host = smtplib.SMTP_SSL(state.server, state.port, timeout=timeout)
        else:
            host = smtplib.SMTP(state.server, state.port, timeout=timeout)
        host.set_debuglevel(int(state.debug))
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


@contextmanager
def smtp_connection() -> Iterator[TimeoutConnection]:
    """One SMTP connection for one or many messages (``mail.connect()`` with a timeout)."""
    with TimeoutConnection(current_app.extensions["mail"]) as conn:
        yield conn


def _check_header(name: str, value: str) -> None:
    if any(ch in value for ch in "\r\n") or any(ch in name for ch in "\r\n:"):
        raise MailHeaderError(f"refusing header {name!r}: line break in name or value")


def build_message(
    recipient: str,
    rendered: RenderedMail,
    attachments: list[dict[str, str]] | None = None,
) -> QuotedPrintableMessage:
    _check_header("To", recipient)
    _check_header("Subject", rendered.subject)
    for name, value in rendered.headers.items():
        _check_header(name, value)
    msg = QuotedPrintableMessage(
        subject=rendered.subject,
        recipients=[recipient],
        body=rendered.text,
        html=rendered.html,
        extra_headers=dict(rendered.headers) or None,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
    )
    for att in attachments or []:
        msg.attach(att["filename"], att["content_type"], att["data"].encode("utf-8"))
    return msg


def envelope_sender(kind: str | None = None, item_id: int | None = None) -> str:
    """The envelope sender (``MAIL FROM``) of a mail: with ``BOUNCE_ADDRESS`` a VERP address
    that names the outbox message (``kind`` "o") or newsletter delivery ("d"), otherwise the
    address of ``MAIL_DEFAULT_SENDER``."""
    if kind and item_id is not None:
        from .bounces import verp_sender

        verp = verp_sender(kind, item_id)
        if verp:
            return verp
    return parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]


#: Headers the DKIM signature covers (absent ones too, so that nobody can add them later);
#: List-Unsubscribe and List-Unsubscribe-Post must be signed for one-click (RFC 8058).
DKIM_HEADERS = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"mime-version",
    b"content-type",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"auto-submitted",
]


def dkim_sign(data: bytes) -> bytes:
    """The message with a ``DKIM-Signature`` header (relaxed/relaxed, rsa-sha256) when
    ``DKIM_SELECTOR``, ``DKIM_DOMAIN`` and ``DKIM_PRIVATE_KEY_PATH`` are set; else unchanged."""
    config = current_app.config
    selector, domain, path = (
        config["DKIM_SELECTOR"],
        config["DKIM_DOMAIN"],
        config["DKIM_PRIVATE_KEY_PATH"],
    )
    if not (selector and domain and path):
        return data
    import dkim

    keys = current_app.extensions.setdefault("dkim_keys", {})
    if path not in keys:
        keys[path] = Path(path).read_bytes()
    signature = dkim.sign(
        data,
        selector.encode("ascii"),
        domain.encode("ascii"),
        keys[path],
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=DKIM_HEADERS,
    )
    return signature + data


def send_message(message: QuotedPrintableMessage, conn: Connection | None = None) -> None:
    if conn is not None:
        conn.send(message)
        return
    with smtp_connection() as own:
        own.send(message)


# --- addresses: one normal form, one key -----------------------------------------------------


class InvalidAddress(ValueError):
    """Not an address the service can send to."""


def valid_address(address: str) -> str:
    """The address as it is stored and sent: email-validator's normal form (no DNS look-up: it
    must work offline), an international domain in its ASCII (``xn--``) form, at most 254
    characters. Umlauts before the @ need SMTPUTF8, which many municipal mail servers do not
    offer: such an address is :class:`InvalidAddress`, like any other that is not valid."""
    try:
        info = validate_email(
            (address or "").strip(), check_deliverability=False, allow_smtputf8=False
        )
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    address = info.ascii_email or info.normalized
    if len(address) > 254:
        raise InvalidAddress("the address is longer than 254 characters")
    return address


def normalize_email(address: str) -> str:
    """The key by which an address in its normal form (:func:`valid_address`) is compared:
    unique per round, subscriber, organizer login, suppression list."""
    return address.strip().lower()


def address_key(address: str) -> str:
    """The key of any input (a look-up, an erasure request): the key of its normal form; what
    is not a valid address is only stripped and lower-cased, so that a look-up for it finds
    nothing rather than failing."""
    try:
        return normalize_email(valid_address(address))
    except InvalidAddress:
        return normalize_email(address or "")


def public_url(path: str, locale: str | None = None) -> str:
    """An absolute link for mails, under ``PUBLIC_BASE_URL`` (links in mails are contracts).
    With the reader's language other than German, the link carries it (``?lang=en``): the
    page it opens speaks the language of the mail, the path stays the same."""
    url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path
    if locale and locale != "de":
        url += ("&" if "?" in path else "?") + urlencode({"lang": locale})
    return url


# --- rendering -------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(MAIL_TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    formatting.register(env)
    app.extensions["mail_templates"] = env


def render_mail(template: str, locale: str, context: dict) -> RenderedMail:
    env: jinja2.Environment = current_app.extensions["mail_templates"]
    locale = locale if locale in ("de", "en") else "de"
    ctx = {
        "service_name": current_app.config["ORGANIZER_NAME"],
        "base_url": current_app.config["PUBLIC_BASE_URL"].rstrip("/"),
        "locale": locale,
        **context,
    }
    with force_locale(locale):
        txt = env.get_template(f"{template}.{locale}.txt")
        html = env.get_template(f"{template}.{locale}.html")
        subject = "".join(txt.blocks["subject"](txt.new_context(ctx))).strip()
        text = txt.render(ctx)
        html_body = html.render({**ctx, "subject": subject})
    return RenderedMail(subject=" ".join(subject.split()), text=text, html=html_body)
