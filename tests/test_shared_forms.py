"""Issue 7: one set of form helpers (forum.form_limits). The subject of a message to a round's
participants is checked by the strict one-line validator of the public form: also invisible
format characters and line separators are refused, not only C0 controls."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from forum.models import OutboxMessage
from registration.models import RoundMessage

STRICT = "Bitte ohne Zeilenumbrüche und ohne Steuerzeichen."


@pytest.mark.parametrize(
    "subject",
    [
        "Anreise\u2028Bcc: alle@example.org",  # line separator
        "Anreise \u202egnuhcsbA",  # right-to-left override
        "Anreise\u200bHotel",  # zero-width space
        "Anreise\x85Hotel",  # C1 next line
        "Anreise\tHotel",  # tab
    ],
)
def test_message_subject_is_one_strict_line(client, login, make_round, make_application, subject):
    rnd = make_round()
    make_application(rnd)  # submitted: in the "live" audience
    login()
    form = {"audience": "live", "subject": subject, "body": "Text", "action": "send"}
    response = client.post(f"/admin/rounds/{rnd.slug}/messages", data=form)
    assert response.status_code == 400
    assert STRICT in response.get_data(as_text=True)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(RoundMessage)) == 0
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_plain_subject_is_sent(client, login, make_round, make_application):
    rnd = make_round()
    make_application(rnd)  # submitted: in the "live" audience
    login()
    form = {"audience": "live", "subject": "Anreise – Hotel", "body": "Text", "action": "send"}
    response = client.post(f"/admin/rounds/{rnd.slug}/messages", data=form)
    assert response.status_code == 302
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(RoundMessage)) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
