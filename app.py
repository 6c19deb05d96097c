"""The application factory: ``flask --app app …``."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, abort, g, render_template, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter, IntegerConverter

from forum import cli as forum_cli
from forum import formatting
from forum import mail as forum_mail
from forum.config import Defaults
from forum.db import configure_engine, reset_read_only, set_read_only
from forum.extensions import (
    LANG_COOKIE,
    LANGUAGES,
    babel,
    csrf,
    db,
    limiter,
    login,
    mail,
    migrate,
    rq,
    select_locale,
)

BASE_DIR = Path(__file__).resolve().parent


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("FORUM_INSTANCE_PATH") or str(BASE_DIR / "instance"),
        instance_relative_config=True,
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
    )
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("FORUM")
    if test_config:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            f"sqlite:///{Path(app.instance_path) / 'forum.sqlite'}"
        )
    # Redis down or frozen must not hang a request: every connection (queue, locks, rate
    # limits) fails fast, and the outbox sweep delivers later.
    redis_timeouts = {
        "socket_connect_timeout": app.config["REDIS_CONNECT_TIMEOUT"],
        "socket_timeout": app.config["REDIS_SOCKET_TIMEOUT"],
    }
    rq_url = app.config["RQ_CONNECTION"]
    if isinstance(rq_url, str):
        app.config["RQ_CONNECTION"] = _with_query(rq_url, redis_timeouts)
    if not app.config["RATELIMIT_STORAGE_URI"]:
        app.config["RATELIMIT_STORAGE_URI"] = app.config["RQ_CONNECTION"]
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {
        **redis_timeouts,
        **app.config["RATELIMIT_STORAGE_OPTIONS"],
    }
    app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
    app.config["PREFERRED_URL_SCHEME"] = (
        "https" if app.config["PUBLIC_BASE_URL"].startswith("https") else "http"
    )
    if app.config["PREFERRED_URL_SCHEME"] == "https":
        # Served over https: cookies only travel encrypted. (Flask's defaults already hold
        # these keys, so setdefault would do nothing.)
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True

    # ``<int:…>`` in every route: only ids an INTEGER column can hold; a larger number is a
    # plain 404 at routing, never an overflow error in the database driver.
    app.url_map.converters["int"] = RowIdConverter
    # Slugs and tokens: no control characters, no endless values (a NUL would reach the
    # database and PostgreSQL refuses it).
    app.url_map.converters["default"] = PathSegmentConverter
    if app.config["PROXY_FIX_X_FOR"]:
        # Behind a reverse proxy: the client's address (rate limits) and scheme come from
        # the X-Forwarded-* headers of that many trusted proxies.
        hops = int(app.config["PROXY_FIX_X_FOR"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    if app.config["SECRET_KEY"] == Defaults.SECRET_KEY and not (
        app.debug or app.testing or app.config["DEV_MAIL_INBOX"]
    ):
        logging.getLogger(__name__).warning(
            "FORUM_SECRET_KEY is not set: links and sessions are signed with the development key"
        )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # PostgreSQL unreachable: fail within seconds, not the operating system's minutes;
        # connections that died with a restart are replaced before use.
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        options.setdefault("pool_pre_ping", True)
        options["connect_args"] = {
            "connect_timeout": app.config["DATABASE_CONNECT_TIMEOUT"],
            **options.get("connect_args", {}),
        }
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, app.config)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True)
    mail.init_app(app)
    csrf.init_app(app)
    rq.init_app(app)
    login.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(BASE_DIR / "translations"),
    )
    limiter.init_app(app)
    forum_mail.init_app(app)

    from forum import (  # noqa: F401  (registers models and the loader)
        audit,
        auth,
        bounces_admin,
        devmail,
        feeds,
        legal,
        models,
        newsletter,
        organizers,
        privacy,
        privacy_admin,
        round_admin,
    )
    from forum import views as forum_views
    from registration import init_app as init_registration

    app.register_blueprint(forum_views.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(devmail.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(organizers.bp)
    app.register_blueprint(bounces_admin.bp)
    app.register_blueprint(round_admin.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(legal.bp)
    app.cli.add_command(auth.organizer_cli)
    forum_cli.init_app(app)
    newsletter.init_app(app)
    init_registration(app)
    privacy.init_app(app)
    app.register_blueprint(privacy_admin.bp)

    _register_request_hooks(app)
    _register_template_helpers(app)
    _register_error_pages(app)
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO)
        # alembic, imported only where it is needed (forum/extensions.py: DeferredMigrate),
        # announces each of its plugins at INFO: imported at start-up, before this, that had
        # gone nowhere.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    return app


def _with_query(url: str, params: dict) -> str:
    """The URL with these query parameters added, unless it sets them itself."""
    missing = {k: v for k, v in params.items() if f"{k}=" not in url}
    if not missing:
        return url
    sep = "&" if "?" in url else "?"
    return url + sep + urlencode(missing)


class RowIdConverter(IntegerConverter):
    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


class PathSegmentConverter(BaseConverter):
    regex = r"[^/\x00-\x1f\x7f]{1,500}"


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def _refuse_nul_bytes():
        # No person types a NUL; PostgreSQL refuses it in text. One check at the edge instead
        # of one per field: the request gets a clear 400 and nothing changes.
        for values in (request.args, request.form):
            for key, value in values.items(multi=True):
                if "\x00" in key or "\x00" in value:
                    abort(400)

    @app.before_request
    def _transaction_mode():
        # GET pages only read: on SQLite they need not take the write lock.
        g.read_only_token = set_read_only(request.method in ("GET", "HEAD", "OPTIONS"))

    @app.teardown_request
    def _reset_transaction_mode(_exc):
        token = g.pop("read_only_token", None)
        if token is not None:
            reset_read_only(token)

    @app.after_request
    def _keep_language(response):
        # The language switch (``?lang=``) is remembered for a year, also after the browser
        # closed the session: a functional cookie, no consent needed.
        chosen = request.args.get("lang")
        if chosen in LANGUAGES and request.cookies.get(LANG_COOKIE) != chosen:
            response.set_cookie(
                LANG_COOKIE,
                chosen,
                max_age=365 * 24 * 3600,
                secure=app.config["SESSION_COOKIE_SECURE"],
                httponly=True,
                samesite="Lax",
            )
        return response

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        csp = response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        )
        # Unframeable, unless a page allows its framing by CSP (only the embed page, for the
        # origins in EMBED_ORIGINS: forum/feeds.py).
        if "frame-ancestors 'none'" in csp:
            response.headers.setdefault("X-Frame-Options", "DENY")
        return response


def _register_template_helpers(app: Flask) -> None:
    from flask_babel import get_locale

    from forum.codes import (
        BODY_TYPES,
        DEPARTMENTS,
        ROLES,
        STATES,
        is_open_format,
        label,
        who_may_apply,
    )

    formatting.register(app.jinja_env)

    @app.context_processor
    def _helpers():
        def lang_url(code: str) -> str:
            return request.path + "?" + urlencode({**request.args.to_dict(), "lang": code})

        return {
            "current_locale": str(get_locale() or "de"),
            "lang_url": lang_url,
            "STATES": STATES,
            "ROLES": ROLES,
            "BODY_TYPES": BODY_TYPES,
            "DEPARTMENTS": DEPARTMENTS,
            "code_label": label,
            "who_may_apply": who_may_apply,
            "is_open_format": is_open_format,
        }


def _register_error_pages(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError
    from sqlalchemy import exc as sa_exc
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        db.session.rollback()
        return render_template("error.html", code=400, reason="csrf"), 400

    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.InterfaceError)
    @app.errorhandler(sa_exc.TimeoutError)
    def _database_unavailable(exc):
        # Busy (a lock not granted in time) or down: the transaction is rolled back, so nothing
        # is half-written; a calm page and a hint when to come back.
        try:
            db.session.rollback()
        except Exception:  # the connection itself is gone
            db.session.remove()
        app.logger.warning(
            "database unavailable in %s: %s", request.endpoint, getattr(exc, "orig", None) or exc
        )
        g.error_logged = True
        g._login_user = login.anonymous_user()  # the page must not query the database again
        response = app.make_response(
            (render_template("error.html", code=503, reason="database"), 503)
        )
        response.headers["Retry-After"] = str(app.config["RETRY_AFTER_SECONDS"])
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        db.session.rollback()
        if exc.code and exc.code < 400:
            return exc
        return render_template("error.html", code=exc.code, reason=exc.name), exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        db.session.rollback()
        # The endpoint, not the path: paths carry the tokens of links in mails.
        app.logger.exception("unhandled error in %s %s", request.method, request.endpoint)
        g.error_logged = True
        return render_template("error.html", code=500, reason="error"), 500
