"""Newsletter subscribers and announcements for the tests."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import insert, select

from forum.db import utcnow
from forum.extensions import db
from forum.newsletter.models import Subscriber

from .mail import link


def subscriber(email: str) -> Subscriber | None:
    db.session.commit()  # a fresh snapshot: see what requests (also of other apps) committed
    return db.session.scalar(select(Subscriber).where(Subscriber.email_normalized == email))


def subscribe(client, email="buergermeisterin@gemeinde.de", name="Eva Beispiel", **kw):
    data = {"email": email, "name": name, "privacy_consent": "y", **kw}
    return client.post("/newsletter", data=data)


def subscribe_and_confirm(client, smtp, work, email="buergermeisterin@gemeinde.de"):
    subscribe(client, email=email)
    work()
    mail = smtp.to(email)[-1]
    response = client.post(link(mail, "/newsletter/confirm/"))
    assert response.status_code == 200
    return mail


def add_subscribers(confirmed: int, pending: int = 0, unsubscribed: int = 0) -> list[str]:
    """Insert subscribers directly; returns the confirmed addresses in id order."""
    rows = []
    for status, count in (
        ("confirmed", confirmed),
        ("pending", pending),
        ("unsubscribed", unsubscribed),
    ):
        for i in range(count):
            address = f"{status}-{i:04d}@kommune-{i % 7}.de"
            rows.append(
                {
                    "email": address,
                    "email_normalized": address,
                    "name": f"Leser*in {i}",
                    "locale": "en" if i % 10 == 0 else "de",
                    "status": status,
                    "created_at": utcnow(),
                }
            )
    # Interleave the statuses so that every batch holds some of each.
    rows.sort(key=lambda r: (r["email"].split("-")[1], r["status"]))
    db.session.execute(insert(Subscriber), rows)
    db.session.commit()
    return list(
        db.session.scalars(
            select(Subscriber.email).where(Subscriber.status == "confirmed").order_by(Subscriber.id)
        )
    )


def announce(runner, rnd, *extra) -> int:
    result = runner.invoke(args=["newsletter", "announce", rnd.slug, *extra])
    assert result.exit_code == 0, result.output
    return int(result.output.strip().splitlines()[0])


def recipients(smtp) -> Counter:
    return Counter(str(m["To"]) for m in smtp.messages)
