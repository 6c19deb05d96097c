"""The SMTP sink behind the ``smtp`` fixture, and reading the mails it received."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller

from . import free_port

LINK = re.compile(r"https://forum\.example\.org(/\S+)")


class SMTPSink:
    """Records every message the real aiosmtpd server accepts; can be told to fail."""

    def __init__(self):
        self.messages: list = []
        self.envelopes: list = []
        self.fail_with: str | None = None  # e.g. "451 4.3.0 try again later"
        self.peers: list = []  # the client's (host, port) per accepted mail: one per connection

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.fail_with:
            return self.fail_with
        self.envelopes.append(envelope)
        self.peers.append(session.peer)
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def clear(self):
        self.messages.clear()
        self.envelopes.clear()


class FlakySMTPSink(SMTPSink):
    """Accepts ``fail_after`` messages, then answers ``fail_answer`` to every further one (until
    ``fail_after`` is set to None). ``after_message(count)`` is called after each accepted
    message, on the server's thread (to act "while a dispatch is running")."""

    def __init__(self):
        super().__init__()
        self.fail_after: int | None = None
        self.fail_answer = "451 4.3.0 Temporary failure, try again later"
        self.after_message = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.fail_after is not None and len(self.messages) >= self.fail_after:
            return self.fail_answer
        answer = await super().handle_DATA(server, session, envelope)
        if self.after_message is not None and answer.startswith("250"):
            self.after_message(len(self.messages))
        return answer


class SMTPServer:
    def __init__(self):
        self.sink = SMTPSink()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self):
        # aiosmtpd is strict: lines over 1000 octets are refused ("500 Line too long").
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    # conveniences
    @property
    def messages(self):
        return self.sink.messages

    def to(self, address):
        return self.sink.to(address)


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def links(message) -> list[str]:
    """The paths of every link to the service in the mail's text part."""
    return LINK.findall(text_of(message))


def link(message, prefix: str) -> str:
    """The path of the first link in the mail's text part that starts with ``prefix``."""
    return next(p for p in links(message) if p.startswith(prefix))


def mail_context() -> dict:
    """A template context for the application mails (outbox and DKIM tests)."""
    return {
        "first_name": "Jürgen",
        "last_name": "Weiß",
        "round_title": "Runde X",
        "status_url": "https://forum.example.org/status/abc",
        "motivation": "Austausch",
        "challenge": "Klimaschutz",
    }
