"""Issue 12, finding 3: request size limits for the whole app, and no echo beyond a field's
limit. The gunicorn test sends 50 MB bodies to the real server and watches its memory."""

from __future__ import annotations

import os
import re
import select
import socket
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func
from sqlalchemy import select as sa_select

from forum.extensions import db
from registration.models import Application
from tests.helpers import application_data


def _count() -> int:
    return db.session.scalar(sa_select(func.count()).select_from(Application))


def test_body_over_the_limit_is_a_short_413_and_changes_nothing(client, make_round, app):
    rnd = make_round()
    big = application_data(motivation="x" * (2 * 1024 * 1024))
    response = client.post(f"/rounds/{rnd.slug}/apply", data=big)
    assert response.status_code == 413
    body = response.get_data(as_text=True)
    assert "Anfrage zu groß" in body
    assert len(body) < 20_000
    assert _count() == 0
    # Also on a route that answers 405 to a POST: the body is not parsed past the limit.
    assert client.post("/", data=big).status_code == 413


def test_too_many_fields_is_413(client, make_round):
    rnd = make_round()
    data = application_data()
    data.update({f"extra{i}": "1" for i in range(1500)})
    response = client.post(
        f"/rounds/{rnd.slug}/apply", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 413
    assert _count() == 0


def test_refused_values_are_echoed_only_up_to_the_field_limit(client, make_round):
    rnd = make_round()
    response = client.post(
        f"/rounds/{rnd.slug}/apply",
        data=application_data(first_name="V" * 400, motivation="M" * 9000, phone="7" * 300),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "V" * 100 in page and "V" * 101 not in page  # Length(max=100)
    assert "M" * 5000 in page and "M" * 5001 not in page  # Length(max=5000)
    assert "7" * 40 in page and "7" * 41 not in page  # Length(max=40)
    assert _count() == 0


def test_newsletter_and_login_echo_at_most_the_limit(client, make_organizer):
    response = client.post(
        "/newsletter",
        data={"email": "a@example.org", "name": "N" * 3000, "privacy_consent": "y"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "N" * 200 in page and "N" * 201 not in page
    response = client.post(
        "/admin/login", data={"email": "e" * 3000 + "@example.org", "password": "x"}
    )
    assert "e" * 255 not in response.get_data(as_text=True)


def test_prefill_is_cut_to_the_field_limit(client, make_round):
    rnd = make_round()
    page = client.get(f"/rounds/{rnd.slug}/apply", query_string={"first_name": "Q" * 300}).get_data(
        as_text=True
    )
    value = re.search(r'name="first_name"[^>]*value="(Q*)"', page)
    assert value and len(value.group(1)) == 100


# --- the real server ---------------------------------------------------------------------------


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _workers(master: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == master:
                        children.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return children


def _big_post(url: str, path: str, total: int) -> tuple[int, int, float]:
    """POST a urlencoded body of ``total`` bytes (with its Content-Length), sending until the
    server answers. Returns the status, the size of the answer and the seconds it took."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    started = time.monotonic()
    sock.sendall(
        (
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {total}\r\nConnection: close\r\n\r\n"
        ).encode()
    )
    chunk = b"x" * 65536
    sent = 0
    try:
        sock.sendall(b"motivation=")
        sent = len(b"motivation=")
        while sent < total:
            data = chunk[: total - sent]
            sock.sendall(data)
            sent += len(data)
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    try:
        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            answer += piece
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    elapsed = time.monotonic() - started
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, len(answer), elapsed


@pytest.mark.serial  # measures time and memory under load
def test_fifty_megabytes_to_gunicorn_are_refused_early(live_server, app, make_round):
    rnd = make_round()
    workers = _workers(live_server.proc.pid)
    assert workers
    before = sum(_rss_kb(pid) for pid in workers)
    results = [
        _big_post(live_server.url, path, 50 * 1024 * 1024)
        for path in (f"/rounds/{rnd.slug}/apply", "/", f"/rounds/{rnd.slug}/apply")
    ]
    after = sum(_rss_kb(pid) for pid in _workers(live_server.proc.pid))
    print(f"\n50 MB posts: {results}; worker RSS {before} kB -> {after} kB")
    for status, size, seconds in results:
        assert status == 413
        assert size < 20_000
        assert seconds < 10
    assert after - before < 30 * 1024  # at most 1 MiB is read per request
    assert _count() == 0
