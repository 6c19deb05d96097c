"""Benchmark: the organizers' round dashboard and the CSV export, for a round with 10,000
applications against a round with 100, measured in the same run.

    .venv/bin/python bench/dashboard.py                       # SQLite in a temporary folder
    .venv/bin/python bench/dashboard.py --database-url postgresql+psycopg://…/bench
    .venv/bin/python bench/dashboard.py --large 20000 --repeat 9

Reports the server time (median of ``--repeat`` requests through Flask's test client, the
whole response consumed) and the number of SQL statements per request (a SQLAlchemy
``before_cursor_execute`` listener), and the ratios large / small. The query count must not
grow with the number of applications; the script exits with status 1 if it does.

The database is emptied and migrated first: never point it at a database you need.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, insert, text  # noqa: E402

from app import create_app  # noqa: E402
from forum.db import utcnow  # noqa: E402
from forum.extensions import db  # noqa: E402
from forum.models import Forum, Meeting, Round  # noqa: E402
from registration.models import Application  # noqa: E402

STATUS_MIX = [
    ("submitted", 0.45),
    ("waitlisted", 0.25),
    ("rejected", 0.15),
    ("accepted", 0.0),  # filled up to the seats below
    ("withdrawn", 0.05),
    ("expired", 0.10),
]
STATES = ["DE-BY", "DE-BW"]
ROLES = ["lord_mayor", "mayor", "deputy", "head_of_office"]
BODY_TYPES = ["city", "municipality", "district"]


def make_round(slug: str, forum: Forum, seats: int) -> Round:
    now = utcnow()
    rnd = Round(
        forum=forum,
        slug=slug,
        title=f"Benchmark {slug}",
        seats=seats,
        opens=now - timedelta(days=10),
        closes=now + timedelta(days=10),
        states=STATES,
        roles=ROLES,
        body_types=BODY_TYPES,
        max_per_state=seats // 2 + 1,
    )
    rnd.meetings.append(
        Meeting(
            title="1. Arbeitstreffen",
            starts=now + timedelta(days=30),
            ends=now + timedelta(days=31),
            venue="Nürnberg",
        )
    )
    db.session.add(rnd)
    db.session.flush()
    return rnd


def load_applications(rnd: Round, count: int, seed: int) -> None:
    """Bulk insert (one executemany per 2,000 rows); statuses in a realistic mix, waitlist
    positions 1..n, the seats held by offered and accepted applications."""
    rng = random.Random(seed)
    now = utcnow()
    rows = []
    waitlist = 0
    held = 0
    for n in range(count):
        roll = rng.random()
        status = "submitted"
        cumulative = 0.0
        for name, share in STATUS_MIX:
            cumulative += share
            if roll < cumulative:
                status = name
                break
        if held < rnd.seats and n % 7 == 0:
            status = "offered" if held % 3 == 0 else "accepted"
        position = None
        if status == "waitlisted":
            waitlist += 1
            position = waitlist
        if status in ("offered", "accepted"):
            held += 1
        organisation = f"Gemeinde {rng.randrange(count // 2 + 1)}"
        rows.append(
            {
                "public_id": f"{rnd.slug}-{n}",
                "round_id": rnd.id,
                "status": status,
                "locale": "de",
                "first_name": f"Vorname{n}",
                "last_name": rng.choice(["Müller", "Schmidt", "Öztürk", "Weiß", "Huber"]) + str(n),
                "email": f"person{n}@{rnd.slug}.example.org",
                "email_normalized": f"person{n}@{rnd.slug}.example.org",
                "phone": "",
                "organisation": organisation,
                "organisation_normalized": organisation.casefold(),
                "body_type": rng.choice(BODY_TYPES),
                "state": rng.choice(STATES),
                "role": rng.choice(ROLES),
                "department": "",
                "motivation": "Wir wollen unsere Kommune nachhaltig weiterentwickeln. " * 4,
                "challenge": "Bürgerbeteiligung beim Klimaschutzkonzept.",
                "commitment": True,
                "privacy_consent_at": now,
                "privacy_version": "bench",
                "newsletter_requested": False,
                "created_at": now - timedelta(minutes=count - n),
                "confirm_deadline": None,
                "confirmed_at": now,
                "waitlist_position": position,
                "offer_deadline": now + timedelta(days=3) if status == "offered" else None,
                "updated_at": now,
            }
        )
        if len(rows) >= 2000:
            db.session.execute(insert(Application), rows)
            rows = []
    if rows:
        db.session.execute(insert(Application), rows)


def measure(client, engine, url: str, repeat: int) -> tuple[float, int, int]:
    """Median milliseconds, SQL statements per request, response bytes."""
    counter = {"n": 0}

    def count(*_args, **_kwargs):
        counter["n"] += 1

    client.get(url).get_data()  # warm up (templates, caches)
    times, queries = [], []
    size = 0
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(repeat):
            counter["n"] = 0
            start = time.perf_counter()
            response = client.get(url)
            body = response.get_data()  # streamed responses run to the end here
            times.append((time.perf_counter() - start) * 1000)
            queries.append(counter["n"])
            size = len(body)
            if response.status_code != 200:
                raise SystemExit(f"{url}: HTTP {response.status_code}")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    if len(set(queries)) != 1:
        print(f"  note: query count varied for {url}: {queries}")
    return statistics.median(times), max(queries), size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="forum-bench-")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite"
    os.environ["FORUM_INSTANCE_PATH"] = tmp
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "TESTING": False,
        }
    )
    from flask_migrate import upgrade

    from forum.auth import create_organizer

    with app.app_context():
        if url.startswith("postgresql"):
            db.session.execute(text("DROP SCHEMA public CASCADE"))
            db.session.execute(text("CREATE SCHEMA public"))
            db.session.commit()
        upgrade()
        forum = Forum(slug="bench", title="Benchmark")
        db.session.add(forum)
        small = make_round("bench-small", forum, seats=24)
        large = make_round("bench-large", forum, seats=24)
        started = time.perf_counter()
        load_applications(small, args.small, seed=1)
        load_applications(large, args.large, seed=2)
        create_organizer("bench@example.org", "bench-passwort-123", is_admin=True)
        db.session.commit()
        loaded = time.perf_counter() - started
        engine = db.engine
        print(
            f"database: {engine.dialect.name}; loaded {args.small} + {args.large} "
            f"applications in {loaded:.1f} s"
        )

    client = app.test_client()
    response = client.post(
        "/admin/login", data={"email": "bench@example.org", "password": "bench-passwort-123"}
    )
    assert response.status_code == 302, response.status_code

    pages = [
        ("dashboard", "/admin/rounds/{slug}"),
        ("dashboard, page 3 of the waitlist", "/admin/rounds/{slug}?status=waitlisted&page=3"),
        (
            "dashboard, search + filters",
            "/admin/rounds/{slug}?q=m%C3%BCller&state=DE-BY&role=mayor",
        ),
        ("CSV export", "/admin/rounds/{slug}/applications.csv"),
    ]
    failed = False
    header = (
        f"{'page':38} {'n=' + str(args.small):>16} {'n=' + str(args.large):>18} "
        f"{'time ratio':>10} {'queries':>8}"
    )
    print(header)
    print("-" * len(header))
    with app.app_context():
        engine = db.engine
    for label, pattern in pages:
        ms_s, q_s, _ = measure(client, engine, pattern.format(slug="bench-small"), args.repeat)
        ms_l, q_l, size_l = measure(client, engine, pattern.format(slug="bench-large"), args.repeat)
        ratio = ms_l / ms_s if ms_s else float("inf")
        same = "same" if q_s == q_l else "GROWS"
        failed |= q_s != q_l
        print(
            f"{label:38} {ms_s:8.1f} ms {q_s:3d} q {ms_l:9.1f} ms {q_l:3d} q {ratio:9.1f}x "
            f"{same:>8}" + (f"  ({size_l / 1e6:.1f} MB)" if "CSV" in label else "")
        )
    if failed:
        print("FAIL: the query count grows with the number of applications")
        return 1
    print("query counts do not depend on the number of applications")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
