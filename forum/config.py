"""Defaults. Overridden by ``instance/config.py``, then by ``FORUM_*`` environment variables."""

from __future__ import annotations

import os


class Defaults:
    SECRET_KEY = "dev-insecure-change-me"
    # Old keys after a rotation: they still verify sessions and links (forum/keys.py).
    SECRET_KEY_FALLBACKS: list[str] = []
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

    # Legal pages (footer): the privacy notice names the controller (Art. 13 DSGVO), the legal
    # notice (/impressum, § 5 DDG) the provider, the accessibility statement (/barrierefreiheit,
    # BITV 2.0) a feedback contact. The defaults are placeholders: `flask doctor` reports them.
    LEGAL_CONTROLLER_NAME = "Kommunalforum (Beispiel), bitte FORUM_LEGAL_CONTROLLER_NAME setzen"
    LEGAL_CONTROLLER_ADDRESS = "Musterstraße 1, 12345 Musterstadt"
    LEGAL_CONTROLLER_EMAIL = "datenschutz@kommunalforum.example"
    LEGAL_CONTROLLER_PHONE = ""  # optional
    LEGAL_REPRESENTATIVE = ""  # who represents the provider (Impressum), optional
    LEGAL_DATA_PROTECTION_OFFICER = ""  # name and contact of the DPO, if there is one
    LEGAL_REGISTER = ""  # e.g. "Vereinsregister Amtsgericht Nürnberg, VR 1234", optional
    LEGAL_VAT_ID = ""  # optional
    LEGAL_CONTENT_RESPONSIBLE = ""  # responsible for the content (§ 18 Abs. 2 MStV), optional
    LEGAL_SUPERVISORY_AUTHORITY = (
        "Bayerisches Landesamt für Datenschutzaufsicht, Promenade 18, 91522 Ansbach"
    )
    ACCESSIBILITY_CONTACT_EMAIL = "barrierefreiheit@kommunalforum.example"
    ACCESSIBILITY_STATEMENT_DATE = "2026-11-30"  # when the statement was last checked
    ACCESSIBILITY_ENFORCEMENT = (
        "Schlichtungsstelle nach § 16 BGG, Mauerstraße 53, 10117 Berlin, "
        "https://www.schlichtungsstelle-bgg.de"
    )

    DEV_MAIL_INBOX = False  # the development inbox at /dev/mail; never in production
    MAINTENANCE_INTERVAL = 60  # seconds between scheduled maintenance runs

    # Retention (DSGVO): applications of a round are anonymised this many days after its last
    # meeting (or its application deadline, whichever is later); mails sent or failed are
    # deleted from the outbox after OUTBOX_RETENTION_DAYS.
    RETENTION_DAYS = 365
    OUTBOX_RETENTION_DAYS = 180
