"""Unbound extensions; :func:`app.create_app` binds them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from flask import Flask, request, session
from flask_babel import Babel
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_rq import RQ
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


# expire_on_commit=False: a redirect after the commit must not open a new (write) transaction
# just to read attributes it already had.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
if TYPE_CHECKING:
    # mypy cannot use the attribute ``db.Model`` as a base class; to it a model is a Base.
    Model = Base
else:
    Model = db.Model
mail = Mail()
csrf = CSRFProtect()
rq = RQ()
login = LoginManager()
login.login_view = "auth.login_page"
login.login_message = _l("Bitte melden Sie sich an.")
login.login_message_category = "info"
babel = Babel()
limiter = Limiter(key_func=get_remote_address)


class DeferredMigrate:
    """Flask-Migrate, bound to an app on first use.

    Importing Flask-Migrate imports alembic: about a third of a second at every start of the
    service, a worker, a command and a test run, though only the ``db`` commands,
    ``migrations/env.py``, ``flask_migrate.upgrade()`` and ``flask doctor`` need it. Until one
    of them runs, ``app.extensions["migrate"]`` and the ``db`` command group are stand-ins that
    bind it (``Migrate(app, db, **options)``) when touched."""

    def init_app(self, app: Flask, db: SQLAlchemy, **options: Any) -> None:
        pending = _PendingMigrate(app, db, options)
        app.extensions["migrate"] = pending
        app.cli.add_command(_DeferredDbGroup(pending))


class _PendingMigrate:
    def __init__(self, app: Flask, db: SQLAlchemy, options: dict[str, Any]) -> None:
        self._app, self._db, self._options = app, db, options

    def bind(self) -> Any:
        """Flask-Migrate's configuration of the app (bound now unless it was before)."""
        if self._app.extensions["migrate"] is self:
            from flask_migrate import Migrate

            # sets app.extensions["migrate"] and replaces the ``db`` group with its own
            Migrate(self._app, self._db, **self._options)
        return self._app.extensions["migrate"]

    def __getattr__(self, name: str) -> Any:  # only for names the stand-in lacks (db, migrate…)
        if name.startswith("_"):  # not Flask-Migrate's (and no recursion before __init__)
            raise AttributeError(name)
        return getattr(self.bind(), name)


class _DeferredDbGroup(click.Group):
    """``flask db``: listed with its help without importing anything; Flask-Migrate's own
    group (options, subcommands, help) as soon as it is called."""

    def __init__(self, pending: _PendingMigrate) -> None:
        super().__init__("db", help="Perform database migrations.")
        self._pending = pending

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        self._pending.bind()
        group = self._pending._app.cli.commands["db"]
        return group.make_context(info_name, args, parent=parent, **extra)


migrate = DeferredMigrate()

LANGUAGES = ("de", "en")


#: The cookie that keeps the language chosen with ``?lang=`` (or the switch) beyond the session.
LANG_COOKIE = "lang"


def select_locale() -> str:
    """German first: an explicit choice (``?lang=``, also in every link of a mail to someone
    who chose English) wins, and is kept in the session and the ``lang`` cookie; otherwise
    German, whatever the browser prefers (many German offices run English browsers)."""
    try:
        chosen = request.args.get("lang")
    except RuntimeError:  # outside a request (jobs, CLI): the caller uses force_locale
        return "de"
    if chosen in LANGUAGES:
        session["lang"] = chosen
        return chosen
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    if request.cookies.get(LANG_COOKIE) in LANGUAGES:
        return request.cookies[LANG_COOKIE]
    return "de"
