"""Starting servers the tests need as their own processes."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import redis as redis_lib

from . import wait_until


def start_redis(port: int) -> subprocess.Popen:
    """A redis-server on 127.0.0.1:``port`` without persistence, answering once this returns."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (the test command installs it)")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis_lib.Redis(port=port)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis_lib.ConnectionError:
            return False

    wait_until(answers, 10, what="redis-server answering")
    return proc


def wait_ready(proc: subprocess.Popen, ready: Callable[[], bool], log: Path, what: str) -> None:
    """Wait until ``ready()`` (a server answering); if the process exits first or 30 seconds
    pass, kill it and fail with the end of its log."""
    answered = False

    def settled() -> bool:
        nonlocal answered
        if proc.poll() is not None:
            return True
        answered = ready()
        return answered

    with contextlib.suppress(AssertionError):  # timed out: reported below
        wait_until(settled, 30, interval=0.1)
    if not answered:
        proc.kill()
        pytest.fail(f"{what} did not start:\n" + log.read_text(errors="replace")[-3000:])
