"""Unbound extensions; :func:`app.create_app` binds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import request, session
from flask_babel import Babel
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
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
migrate = Migrate()
mail = Mail()
csrf = CSRFProtect()
rq = RQ()
login = LoginManager()
login.login_view = "auth.login_page"
login.login_message = _l("Bitte melden Sie sich an.")
login.login_message_category = "info"
babel = Babel()
limiter = Limiter(key_func=get_remote_address)

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
