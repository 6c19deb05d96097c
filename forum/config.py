"""Defaults. Overridden by ``instance/config.py``, then by ``FORUM_*`` environment variables."""

from __future__ import annotations

import os


class Defaults:
    SECRET_KEY = "dev-insecure-change-me"
    # Earlier keys, still accepted (never used to sign): sessions and links in mails already
    # sent keep working after a rotation. E.g. FORUM_SECRET_KEY_FALLBACKS='["old key"]'.
    SECRET_KEY_FALLBACKS: list[str] = []
    SQLALCHEMY_DATABASE_URI: str | None = None  # set in create_app: SQLite in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLITE_BUSY_TIMEOUT_MS = 30_000  # jobs and commands
    # A request waits at most this long for a lock (SQLite's write lock, a PostgreSQL row or
    # table lock); then the database counts as busy: 503 with Retry-After, nothing written.
    SQLITE_REQUEST_BUSY_TIMEOUT_MS = 5_000
    POSTGRES_REQUEST_LOCK_TIMEOUT_MS = 5_000
    DATABASE_CONNECT_TIMEOUT = 3  # seconds (PostgreSQL)
    RETRY_AFTER_SECONDS = 30  # the Retry-After of a 503 (database busy or down)

    RQ_CONNECTION = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    RQ_QUEUES = ["default", "mail", "bulk"]
    # Seconds for connecting to Redis and for each command (queue, locks, rate limits): a
    # frozen Redis costs a request about this much, then the request goes on without it.
    REDIS_CONNECT_TIMEOUT = 2
    REDIS_SOCKET_TIMEOUT = 0.5
    # After a failed enqueue, requests leave mail to the outbox sweep for this long.
    REDIS_BACKOFF_SECONDS = 15
    # Requests of one process ask Redis for an outbox flush at most once in this many ms; a
    # commit in between is covered by one more ask when the window ends (forum.outbox). 0: each.
    OUTBOX_FLUSH_DEBOUNCE_MS = 100
    # None: Flask-RQ's default (synchronous when TESTING). We always want the real queue.
    RQ_ASYNC = True

    MAIL_SERVER = "127.0.0.1"
    MAIL_PORT = 8025
    MAIL_DEFAULT_SENDER = "Kommunalforum <noreply@kommunalforum.example>"
    MAIL_TIMEOUT = 15  # seconds, for connect and every SMTP command
    MAIL_SUPPRESS_SEND = False
    # Flask-Mail's connection settings (also read by `flask doctor`).
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    # Temporary failures wait these seconds before the next attempt (the maintenance run
    # enqueues what is due, so the real wait is rounded up to MAINTENANCE_INTERVAL). Newsletter
    # deliveries fail after len + 1 attempts; transactional mail keeps the last interval.
    MAIL_RETRY_INTERVALS = [10, 30, 120, 600, 1800, 3600]
    # A claimed mail is held this long by the job sending it; a killed worker's mail goes out
    # again after it (longer than one SMTP transaction: connect and four commands).
    MAIL_CLAIM_SECONDS = 120

    # Bounces (VERP): e.g. "bounces@example.org"; every mail's envelope sender becomes
    # bounces+<signed token>@example.org. None: the address of MAIL_DEFAULT_SENDER.
    BOUNCE_ADDRESS: str | None = None
    # Soft bounces (and 4xx DSNs) of one address: this many within SOFT_BOUNCE_DAYS suppress it.
    SOFT_BOUNCE_LIMIT = 3
    SOFT_BOUNCE_DAYS = 30
    # DKIM: every mail is signed when all three are set.
    DKIM_SELECTOR: str | None = None
    DKIM_DOMAIN: str | None = None
    DKIM_PRIVATE_KEY_PATH: str | None = None

    PUBLIC_BASE_URL = "http://localhost:5000"
    # The demo admin of the development setup (`flask organizer demo`); never in production.
    DEMO_ORGANIZER_EMAIL = "admin@kommunalforum.example"
    DEMO_ORGANIZER_PASSWORD = "demo-passwort"
    ORGANIZER_NAME = "Kommunalforum"

    BABEL_DEFAULT_LOCALE = "de"
    BABEL_DEFAULT_TIMEZONE = "Europe/Berlin"

    # Number of trusted reverse proxies in front of the service (0: none). Set it behind a
    # proxy, or every client shares the proxy's address in the rate limits.
    PROXY_FIX_X_FOR = 0

    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI: str | None = None  # default: the RQ Redis
    RATELIMIT_STORAGE_OPTIONS: dict = {}  # Flask-Limiter's; the Redis timeouts are added
    RATELIMIT_HEADERS_ENABLED = False
    RATELIMIT_APPLY = "20 per minute; 200 per hour"  # the public application form, per address

    # Request size (Flask/Werkzeug): the whole body, the form data held in memory, and the
    # number of form fields. The largest legitimate form (an announcement of 20,000 characters,
    # percent-encoded) stays well below; anything larger is a short 413 page, parsed no further.
    MAX_CONTENT_LENGTH = 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 512 * 1024
    MAX_FORM_PARTS = 1000

    # Login throttling (OWASP "device cookies"): a browser that signed in to an account before
    # carries a signed device cookie and has its own limit; all other browsers share the
    # account's limit, so an attacker locks out only unknown browsers, never the owner's.
    LOGIN_RATELIMIT_ADDRESS = "10 per minute; 50 per hour"  # per client address
    LOGIN_RATELIMIT_ACCOUNT = "10 per 15 minutes"  # per account, browsers without its cookie
    LOGIN_RATELIMIT_DEVICE = "10 per 15 minutes"  # per device cookie
    LOGIN_DEVICE_COOKIE_DAYS = 365
    LOGIN_ATTACK_MAIL_HOURS = 6  # at most one warning mail to the account in this time

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # tied to the session; forms left open overnight still work

    # Origins (e.g. ["https://www.partner.example"]) whose pages may show /embed/forums/<slug>
    # in an iframe (CSP frame-ancestors); empty: no site may frame it.
    EMBED_ORIGINS: list[str] = []
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

    # The newsletter (forum/newsletter/).
    NEWSLETTER_RATE_PER_MINUTE = 0  # mails per minute over all workers; 0 = unlimited
    NEWSLETTER_BATCH_SIZE = 1000  # mails per batch job (one SMTP connection each)
    NEWSLETTER_CONFIRM_DAYS = 7  # how long a confirmation link works
    NEWSLETTER_RESEND_SECONDS = 3600  # a pending address gets the confirmation mail again
    NEWSLETTER_PENDING_DAYS = 30  # unconfirmed requests are deleted after this
    NEWSLETTER_LIST_ID: str | None = None  # default: "<name> Newsletter" <newsletter.<host>>
    NEWSLETTER_UNSUBSCRIBE_MAILTO: str | None = None  # a mailto: for unsubscribes, if handled
    NEWSLETTER_RATELIMIT = "10 per minute; 100 per hour"  # the public form, per address
