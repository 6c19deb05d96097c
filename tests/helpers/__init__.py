"""Plain helpers the tests import (no fixtures: those live in ``tests/fixtures/``).

Test modules import from here, never from one another or from ``conftest.py``
(``tests/test_layout.py`` checks it)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent.parent

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    what: str | Callable[[], str] = "",
) -> T:
    """Poll ``condition`` until it returns something true and return that; fail the test with
    ``what`` after ``timeout`` seconds. For events in other processes or threads that the test
    cannot be told about directly (a server listening, a worker finishing a job)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"waited {timeout} s in vain{': ' + detail if detail else ''}")
        time.sleep(interval)


def application_data(**overrides) -> dict:
    """The public application form, filled in validly; ``None`` leaves a field out."""
    data = {
        "first_name": "Anna",
        "last_name": "Müller",
        "email": "anna.mueller@gemeinde-beispiel.de",
        "phone": "",
        "organisation": "Gemeinde Beispielhausen",
        "body_type": "municipality",
        "state": "DE-BY",
        "role": "mayor",
        "department": "",
        "motivation": "Wir wollen unsere Kommune nachhaltig weiterentwickeln.",
        "challenge": "Bürgerbeteiligung beim Klimaschutzkonzept.",
        "commitment": "y",
        "privacy_consent": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}
