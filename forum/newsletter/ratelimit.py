"""A rate limit for newsletter mails shared by all workers (``NEWSLETTER_RATE_PER_MINUTE``,
0 = unlimited), since mail providers throttle bulk senders.

Each mail reserves the next free send slot in Redis (a generic cell rate algorithm: one key
holding the time at which the next slot is free) and the worker sleeps until its slot comes.
Mails are spaced evenly instead of sent in bursts at the start of each minute."""

from __future__ import annotations

import time

from flask import current_app

from forum.extensions import rq

KEY = "newsletter:rate:next-slot"

# KEYS[1]: next free slot (seconds since the epoch); ARGV: now, interval. Returns the wait.
_RESERVE = """
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local slot = math.max(nxt, now)
redis.call('SET', KEYS[1], tostring(slot + interval), 'EX', 3600)
return tostring(slot - now)
"""


class RateLimiter:
    def __init__(self, per_minute: int):
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._script = None
        if self.interval:
            connection = rq.get_queue("bulk").connection
            self._script = connection.register_script(_RESERVE)

    @classmethod
    def from_config(cls) -> RateLimiter:
        return cls(int(current_app.config["NEWSLETTER_RATE_PER_MINUTE"] or 0))

    def wait(self) -> float:
        """Block until this worker may send the next mail; returns the seconds waited."""
        if not self.interval:
            return 0.0
        assert self._script is not None  # registered whenever there is an interval
        delay = float(self._script(keys=[KEY], args=[f"{time.time():.6f}", self.interval]))
        if delay > 0:
            time.sleep(delay)
        return delay

    def expected_seconds(self, mails: int) -> float:
        return mails * self.interval
