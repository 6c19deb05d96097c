"""Newsletter subscribers and announcements: the status changes exactly as their tables say,
through the one method that changes it."""

from __future__ import annotations

import itertools

import pytest

from forum.newsletter.models import (
    ANNOUNCEMENT_TRANSITIONS,
    SUBSCRIBER_TRANSITIONS,
    Announcement,
    AnnouncementStatus,
    StatusError,
    Subscriber,
    SubscriberStatus,
    sources_of,
)

SS, AS = SubscriberStatus, AnnouncementStatus

SUBSCRIBER_ALLOWED = {
    (SS.PENDING, SS.PENDING),  # asked again: a new confirmation mail
    (SS.PENDING, SS.CONFIRMED),
    (SS.PENDING, SS.UNSUBSCRIBED),
    (SS.CONFIRMED, SS.UNSUBSCRIBED),
    (SS.UNSUBSCRIBED, SS.PENDING),  # subscribes again, with a new double opt-in
}
ANNOUNCEMENT_ALLOWED = {
    (AS.DRAFT, AS.QUEUED),
    (AS.QUEUED, AS.SENDING),
    (AS.SENDING, AS.SENDING),  # failed deliveries retried while sending
    (AS.SENDING, AS.DONE),
    (AS.DONE, AS.SENDING),  # failed deliveries retried after the end
}


@pytest.mark.parametrize(
    ("make", "statuses", "allowed"),
    [
        (lambda s: Subscriber(status=s), SubscriberStatus, SUBSCRIBER_ALLOWED),
        (lambda s: Announcement(status=s), AnnouncementStatus, ANNOUNCEMENT_ALLOWED),
    ],
    ids=["subscriber", "announcement"],
)
def test_status_changes_exactly_as_the_table_says(make, statuses, allowed):
    for source, target in itertools.product(statuses, statuses):
        row = make(source)
        if (source, target) in allowed:
            row.change_status(target)
            assert row.status == target
        else:
            with pytest.raises(StatusError):
                row.change_status(target)
            assert row.status == source, (source, target)


def test_the_tables_hold_nothing_else():
    assert {(s, t) for s, ts in SUBSCRIBER_TRANSITIONS.items() for t in ts} == SUBSCRIBER_ALLOWED
    assert {
        (s, t) for s, ts in ANNOUNCEMENT_TRANSITIONS.items() for t in ts
    } == ANNOUNCEMENT_ALLOWED


def test_sources_for_conditional_updates():
    assert sources_of(SS.UNSUBSCRIBED, SUBSCRIBER_TRANSITIONS) == ["confirmed", "pending"]
    assert sources_of(AS.DONE, ANNOUNCEMENT_TRANSITIONS) == ["sending"]
