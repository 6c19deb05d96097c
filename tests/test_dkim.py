"""DKIM: with a key configured, every mail (transactional and newsletter) arrives at the real
SMTP server signed, and the signature verifies against the public key (dkimpy's verify, with
a DNS function that answers the key's TXT record); a changed header breaks it."""

from __future__ import annotations

import base64
import subprocess

import dkim
import pytest

from forum.extensions import db
from forum.outbox import queue_mail
from tests.helpers.mail import mail_context
from tests.helpers.newsletter import add_subscribers, announce


@pytest.fixture
def dkim_key(tmp_path):
    private = tmp_path / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True
    )
    der = subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    return private, record


def test_every_mail_is_signed_and_verifies(app, runner, make_round, smtp, work, dkim_key):
    private, record = dkim_key
    app.config.update(
        DKIM_SELECTOR="forum2026",
        DKIM_DOMAIN="forum.example.org",
        DKIM_PRIVATE_KEY_PATH=str(private),
    )
    asked = []

    def dnsfunc(name, timeout=5):
        asked.append(name)
        return record if name == b"forum2026._domainkey.forum.example.org." else None

    queue_mail("x@gemeinde.de", "application_submitted", "de", mail_context())
    db.session.commit()
    add_subscribers(3)
    announce(runner, make_round())
    work()
    raws = [e.original_content for e in smtp.sink.envelopes]
    assert len(raws) == 4  # one transactional, three newsletter mails
    for raw in raws:
        assert raw.startswith(b"DKIM-Signature:")
        assert dkim.verify(raw, dnsfunc=dnsfunc)
    newsletter = next(r for r in raws if b"List-Unsubscribe-Post" in r)
    signed = dkim.DKIM(newsletter)
    signed.verify(dnsfunc=dnsfunc)
    assert b"list-unsubscribe-post" in [h.lower() for h in signed.include_headers]
    assert set(asked) == {b"forum2026._domainkey.forum.example.org."}
    tampered = raws[0].replace(b"Subject: ", b"Subject: X", 1)
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)


def test_without_a_key_nothing_is_signed(app, smtp, work):
    queue_mail("x@gemeinde.de", "application_submitted", "de", mail_context())
    db.session.commit()
    work()
    assert b"DKIM-Signature" not in smtp.sink.envelopes[0].original_content
