"""The development mail catcher: an aiosmtpd server that stores every mail in a Maildir in the
instance folder, and the inbox page at ``/dev/mail`` (only with ``DEV_MAIL_INBOX``)."""

from __future__ import annotations

import mailbox
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

from flask import Blueprint, abort, current_app, make_response, render_template


def maildir_path() -> Path:
    return Path(current_app.instance_path) / "devmail"


class _Handler:
    def __init__(self, path: Path):
        self.box = mailbox.Maildir(str(path), create=True)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        data = envelope.original_content or envelope.content
        self.box.add(data if isinstance(data, bytes) else data.encode("utf-8"))
        return "250 Message accepted for delivery"


def run_mailcatcher(host: str, port: int) -> None:
    from aiosmtpd.controller import Controller

    path = maildir_path()
    controller = Controller(_Handler(path), hostname=host, port=port)
    controller.start()
    print(f"mail catcher on smtp://{host}:{port}, inbox at /dev/mail, files in {path}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


bp = Blueprint("devmail", __name__, url_prefix="/dev/mail")


@bp.before_request
def _only_in_development():
    if not current_app.config["DEV_MAIL_INBOX"]:
        abort(404)


def _box() -> mailbox.Maildir | None:
    path = maildir_path()
    return mailbox.Maildir(str(path), create=False) if path.exists() else None


def _parse(box: mailbox.Maildir, key: str):
    return BytesParser(policy=policy.default).parsebytes(box.get_bytes(key))


@bp.get("/")
def inbox():
    box = _box()
    items = []
    if box is not None:
        keyed = sorted(((box.get_message(k).get_date(), k) for k in box.keys()), reverse=True)
        items = [(key, _parse(box, key)) for _date, key in keyed[:200]]
    return render_template("dev/inbox.html", items=items)


@bp.get("/<key>")
def show(key: str):
    box = _box()
    if box is None or key not in box:
        abort(404)
    msg = _parse(box, key)
    text = msg.get_body(preferencelist=("plain",))
    attachments = [part.get_filename() for part in msg.iter_attachments() if part.get_filename()]
    return render_template(
        "dev/message.html",
        key=key,
        msg=msg,
        text=text.get_content() if text else "",
        attachments=attachments,
    )


@bp.get("/<key>/html")
def show_html(key: str):
    """The HTML part alone, for the preview frame: sandboxed, no scripts, inline styles."""
    box = _box()
    if box is None or key not in box:
        abort(404)
    part = _parse(box, key).get_body(preferencelist=("html",))
    response = make_response(part.get_content() if part else "")
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
