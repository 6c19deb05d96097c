"""Many HTTP sessions against the live server at once (the parallel tests)."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import select

from forum.extensions import db
from registration.models import Application

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PASSWORD = "richtig-langes-passwort"


def organizer_sessions(server, make_organizer, forum, organizers: int, per_organizer: int):
    """Log in ``organizers * per_organizer`` browser sessions (in parallel, as people would)."""
    emails = [f"orga{n}@forum.example.org" for n in range(organizers)]
    for email in emails:
        make_organizer(email=email, password=PASSWORD, forums=[forum])

    def log_in(email: str) -> tuple[requests.Session, str]:
        s = requests.Session()
        page = s.get(server.url + "/admin/login", timeout=30)
        token = CSRF.search(page.text)[1]
        response = s.post(
            server.url + "/admin/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 302, response.text[-500:]
        home = s.get(server.url + "/admin/", timeout=30)
        return s, CSRF.search(home.text)[1]  # the logout form's token: one per session

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(log_in, [e for e in emails for _ in range(per_organizer)]))


def run_parallel(tasks, workers: int) -> list[int]:
    """Run callables at once (a barrier lines up the first ``workers`` of them, the rest follow
    as threads free up) and return their HTTP status codes."""
    parties = min(workers, len(tasks))
    barrier = threading.Barrier(parties)

    def start(numbered):
        index, task = numbered
        if index < parties:
            barrier.wait(timeout=30)
        return task()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(start, enumerate(tasks)))


def statuses(rnd) -> dict[str, list[Application]]:
    db.session.commit()
    db.session.expire_all()
    result: dict[str, list[Application]] = {}
    for a in db.session.scalars(select(Application).where(Application.round_id == rnd.id)):
        result.setdefault(a.status, []).append(a)
    return result
