"""The fixtures, split by what they provide (see the modules' docstrings):

- ``tests/fixtures/servers.py``: ``redis_url``, ``smtp``, ``flaky_smtp``, ``live_server``
- ``tests/fixtures/database.py``: ``database_url``, ``make_app``, ``app``, ``client``,
  ``runner``, ``work``, ``write``
- ``tests/fixtures/factories.py``: ``make_round``, ``make_organizer``, ``login``,
  ``make_application``, ``holders``
- ``tests/fixtures/browser.py``: ``browser`` (one chromium per session), ``axe``

Plain helpers (application data, mail parsing, jobs, the browser steps, ``wait_until``) are in
``tests/helpers/``; test modules import those, never another test module or this file."""

import os

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.database",
    "tests.fixtures.factories",
    "tests.fixtures.browser",
]

# Names test modules imported from here before the split (branches written before it may still
# do): they keep working, and tests/test_layout.py names each such import so that it moves to
# tests.helpers.
from tests.helpers import ROOT, application_data, free_port  # noqa: E402, F401
from tests.helpers.clients import IsolatedClient  # noqa: E402, F401
from tests.helpers.jobs import run_jobs  # noqa: E402, F401
from tests.helpers.mail import FlakySMTPSink, SMTPServer, SMTPSink  # noqa: E402, F401


def pytest_collection_modifyitems(config, items):
    """On the PostgreSQL run, the tests that use no database (no ``database_url`` among their
    fixtures: the code scans, the catalogs, the fast tier with its own SQLite in memory) are
    left out: they ran on the SQLite run and would do exactly the same again."""
    if not os.environ.get("FORUM_TEST_DATABASE_URL"):
        return
    keep, drop = [], []
    for item in items:
        (keep if "database_url" in getattr(item, "fixturenames", ()) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
