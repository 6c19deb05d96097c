"""The words shown to organizers for the newsletter's statuses, in the current language:
one table per status column, read through :func:`status_word`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .models import AnnouncementStatus, DeliveryStatus, SubscriberStatus

SP, AS, DS = SubscriberStatus, AnnouncementStatus, DeliveryStatus

#: The words by status column (``subscriber``, ``announcement``, ``delivery``) and status.
WORDS: dict[str, dict[str, object]] = {
    "subscriber": {SP.PENDING: _l("unbestätigt"), SP.CONFIRMED: _l("bestätigt")}
    | {SP.UNSUBSCRIBED: _l("abgemeldet")},
    "announcement": {AS.DRAFT: _l("Entwurf"), AS.QUEUED: _l("Versand angefordert")}
    | {AS.SENDING: _l("wird versandt"), AS.DONE: _l("versandt")},
    "delivery": {DS.QUEUED: _l("wartet auf den Versand"), DS.SENT: _l("zugestellt")}
    | {DS.DEFERRED: _l("wird wiederholt"), DS.FAILED: _l("fehlgeschlagen")}
    | {DS.SKIPPED: _l("übersprungen (abgemeldet)")},
}


def status_word(column: str, status: str) -> str:
    """The word for ``status`` of a subscriber, an announcement or a delivery."""
    return str(WORDS[column].get(status, status))
