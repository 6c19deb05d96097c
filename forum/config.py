"""Defaults. Overridden by ``instance/config.py``, then by ``FORUM_*`` environment variables."""

from __future__ import annotations

import os


class Defaults:
    SECRET_KEY = "dev-insecure-change-me"
    SQLALCHEMY_DATABASE_URI: str | None = None  # set in create_app: SQLite in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLITE_BUSY_TIMEOUT_MS = 30_000

    RQ_CONNECTION = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    RQ_QUEUES = ["default", "mail", "bulk"]
    # None: Flask-RQ's default (synchronous when TESTING). We always want the real queue.
    RQ_ASYNC = True

    MAIL_SERVER = "127.0.0.1"
    MAIL_PORT = 8025
    MAIL_DEFAULT_SENDER = "Kommunalforum <noreply@kommunalforum.example>"
    MAIL_TIMEOUT = 15  # seconds, for connect and every SMTP command
    MAIL_SUPPRESS_SEND = False
    MAIL_RETRY_INTERVALS = [10, 30, 120, 600, 1800, 3600]

    PUBLIC_BASE_URL = "http://localhost:5000"
    ORGANIZER_NAME = "Kommunalforum"

    BABEL_DEFAULT_LOCALE = "de"
    BABEL_DEFAULT_TIMEZONE = "Europe/Berlin"

    # Number of trusted reverse proxies in front of the service (0: none). Set it behind a
    # proxy, or every client shares the proxy's address in the rate limits.
    PROXY_FIX_X_FOR = 0

    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI: str | None = None  # default: the RQ Redis
    RATELIMIT_HEADERS_ENABLED = False
    RATELIMIT_APPLY = "20 per minute; 200 per hour"

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # tied to the session; forms left open overnight still work

    # Origins (e.g. ["https://www.partner.example"]) whose pages may show /embed/forums/<slug>
    # in an iframe (CSP frame-ancestors); empty: no site may frame it.
    EMBED_ORIGINS: list[str] = []

    DEV_MAIL_INBOX = False  # the development inbox at /dev/mail; never in production
    MAINTENANCE_INTERVAL = 60  # seconds between scheduled maintenance runs

    # Retention (DSGVO): applications of a round are anonymised this many days after its last
    # meeting (or its application deadline, whichever is later); mails sent or failed are
    # deleted from the outbox after OUTBOX_RETENTION_DAYS.
    RETENTION_DAYS = 365
    OUTBOX_RETENTION_DAYS = 180
