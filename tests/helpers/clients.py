"""The test client class of the ``client`` fixture (tests that need a second client use it)."""

from __future__ import annotations

from flask import g
from flask.testing import FlaskClient
from flask_babel import refresh as babel_refresh

from forum.extensions import db


class IsolatedClient(FlaskClient):
    """The test body and its requests share one app context (and so one session). Each
    request starts and ends with a fresh transaction, as it would in production, and the
    test body sees what the request committed."""

    def open(self, *args, **kwargs):
        db.session.commit()
        # Flask-Login caches the user in the app context's ``g``; two clients in one test
        # must not see each other's login.
        g.pop("_login_user", None)
        babel_refresh()  # likewise Flask-Babel's cached locale
        try:
            return super().open(*args, **kwargs)
        finally:
            g.pop("_login_user", None)
            db.session.rollback()
            db.session.expire_all()
