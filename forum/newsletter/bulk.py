"""Fast personalised newsletter messages for a batch.

Building a MIME message with the ``email`` package costs about 1.5 ms, more than sending it
to a local SMTP server; for a newsletter that is the same mail a thousand times with another
address and unsubscribe link. So a batch builds its message once per language with
:func:`forum.mail.build_message` (Flask-Mail, quoted-printable bodies, header checks), with
markers in place of the recipient, the unsubscribe link and the two bodies, and flattens it.
Per recipient it puts in the address, a new Message-ID and Date, the link in the headers, and
the two personal bodies quoted-printable encoded with :func:`binascii.b2a_qp` (lines of at most
76 characters, CRLF). Addresses must be ASCII (international domains in their xn-- form).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import urlsplit

from flask import current_app

from forum.mail import MailHeaderError, RenderedMail, build_message

from .render import UNSUBSCRIBE_PLACEHOLDER, list_headers
from .tokens import unsubscribe_url

_TO = "newsletter-recipient-marker@example.invalid"
_TEXT = "NEWSLETTERTEXTBODYMARKER"
_HTML = "NEWSLETTERHTMLBODYMARKER"


def _qp(body: str) -> bytes:
    crlf = body.replace("\r\n", "\n").replace("\n", "\r\n")
    return binascii.b2a_qp(crlf.encode("utf-8"), istext=True)


@dataclass
class Envelope:
    sender: str
    recipient: str
    data: bytes


class MessageFactory:
    """One rendered mail (with :data:`UNSUBSCRIBE_PLACEHOLDER`) → a message per recipient."""

    def __init__(self, template: RenderedMail, locale: str | None = None):
        self.template = template
        self.locale = locale  # of the readers: their unsubscribe links carry it
        skeleton = RenderedMail(
            subject=template.subject,
            text=_TEXT,
            html=_HTML,
            headers={
                **template.headers,
                **list_headers(f"https://{UNSUBSCRIBE_PLACEHOLDER}.invalid/"),
            },
        )
        message = build_message(_TO, skeleton)
        assert isinstance(message.sender, str)  # Flask-Mail formats a (name, address) pair
        self.sender = parseaddr(message.sender)[1] or current_app.config["MAIL_DEFAULT_SENDER"]
        self.domain = urlsplit(current_app.config["PUBLIC_BASE_URL"]).hostname or "localhost"
        raw = message.as_bytes()
        self._old_id = message.msgId.encode("ascii")
        self._old_date = self._header(raw, b"Date")
        self._skeleton = raw
        for marker in (_TO, _TEXT, _HTML, UNSUBSCRIBE_PLACEHOLDER):
            if raw.count(marker.encode("ascii")) < 1:
                raise RuntimeError(f"marker {marker} not found in the message skeleton")

    @staticmethod
    def _header(raw: bytes, name: bytes) -> bytes:
        head = raw.split(b"\r\n\r\n", 1)[0]
        for line in head.split(b"\r\n"):
            if line.startswith(name + b": "):
                return line[len(name) + 2 :]
        raise RuntimeError(f"no {name!r} header in the skeleton")

    def build(self, recipient: str, subscriber_public_id: str) -> Envelope:
        """The message for one recipient, ready for ``smtplib.SMTP.sendmail``."""
        if any(ch in recipient for ch in '\r\n\0<>,;" '):
            raise MailHeaderError(f"refusing recipient {recipient!r}")
        if not recipient.isascii():
            # Subscribing refuses such addresses; an old or imported row must not stop a batch.
            raise MailHeaderError(f"refusing recipient {recipient!r}: not an ASCII address")
        url = unsubscribe_url(subscriber_public_id, self.locale)
        text = _qp(self.template.text.replace(UNSUBSCRIBE_PLACEHOLDER, url))
        html = _qp(self.template.html.replace(UNSUBSCRIBE_PLACEHOLDER, url))
        data = (
            self._skeleton.replace(_TO.encode("ascii"), recipient.encode("ascii"))
            .replace(self._old_id, make_msgid(domain=self.domain).encode("ascii"), 1)
            .replace(self._old_date, formatdate(localtime=True).encode("ascii"), 1)
            .replace(
                f"https://{UNSUBSCRIBE_PLACEHOLDER}.invalid/".encode("ascii"),
                url.encode("ascii"),
            )
            .replace(_TEXT.encode("ascii"), text, 1)
            .replace(_HTML.encode("ascii"), html, 1)
        )
        return Envelope(self.sender, recipient, data)
