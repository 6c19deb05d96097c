"""The words for each status come from one mapping per kind (issue 7): every status has its
label and its sentence for the applicant, in German and in English."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask_babel import force_locale

from forum.newsletter import messages as newsletter_words
from forum.newsletter.models import AnnouncementStatus, DeliveryStatus, SubscriberStatus
from registration.admission.messages import offer_heading, status_label, status_text
from registration.lifecycle import Status
from registration.models import Application


def _application(status: Status) -> Application:
    return Application(
        status=status,
        waitlist_position=3,
        offer_deadline=datetime(2027, 1, 31, 22, 59, tzinfo=UTC),
    )


@pytest.mark.parametrize("status", list(Status))
def test_every_status_has_its_words_in_both_languages(context, status):
    a = _application(status)
    with force_locale("de"):
        german = (status_label(status), status_text(a), offer_heading(a))
    with force_locale("en"):
        english = (status_label(status), status_text(a), offer_heading(a))
    assert all(german) and all(english)
    assert german[:2] != english[:2]
    assert status.value not in german[:2]


def test_the_sentences_carry_the_place_and_the_deadline(context):
    with force_locale("de"):
        assert "Platz 3" in status_text(_application(Status.WAITLISTED))
        assert "31. Januar 2027" in status_text(_application(Status.OFFERED))
        assert offer_heading(_application(Status.ACCEPTED)) == "Sie haben zugesagt"
        assert offer_heading(_application(Status.REVOKED)) == "Dieses Angebot gilt nicht mehr"
    with force_locale("en"):
        assert "position 3" in status_text(_application(Status.WAITLISTED))


@pytest.mark.parametrize(
    ("column", "statuses"),
    [
        ("subscriber", SubscriberStatus),
        ("announcement", AnnouncementStatus),
        ("delivery", DeliveryStatus),
    ],
)
def test_every_newsletter_status_has_its_word(context, column, statuses):
    for status in statuses:
        with force_locale("de"):
            german = newsletter_words.status_word(column, status)
        with force_locale("en"):
            english = newsletter_words.status_word(column, status)
        assert german and english and german != english, status
