"""What the newsletter stores about a person, for :mod:`forum.privacy`: the subscriber with
its consent records and deliveries. The export is the consent export; the erasure deletes
them all (a record of consent is only needed while the address receives the newsletter)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from forum.db import execute_dml, lock_row
from forum.extensions import db

from .models import ConsentRecord, Delivery, Subscriber
from .services import consent_export


def export_newsletter(key: str) -> list[dict[str, Any]]:
    export = consent_export(key)
    return [export] if export is not None else []


def erase_newsletter(key: str, reason: str) -> int:
    """Delete the subscriber of the address, its consent records and its deliveries; returns
    how many rows went. A batch sending at this moment finds the delivery gone and skips it.
    Does not commit."""
    subscriber_id = db.session.scalar(
        select(Subscriber.id).where(Subscriber.email_normalized == key)
    )
    if subscriber_id is None:
        return 0
    subscriber = lock_row(Subscriber, subscriber_id)
    count = 0
    for model in (ConsentRecord, Delivery):
        count += execute_dml(
            delete(model)
            .where(model.subscriber_id == subscriber_id)
            .execution_options(synchronize_session=False)
        ).rowcount
    db.session.delete(subscriber)
    db.session.flush()
    return count + 1
