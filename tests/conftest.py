"""The fixtures, split by what they provide (see the modules' docstrings):

- ``tests/fixtures/servers.py``: ``redis_url``, ``smtp``, ``flaky_smtp``, ``live_server``
- ``tests/fixtures/database.py``: ``database_url``, ``make_app``, ``app``, ``client``,
  ``runner``, ``work``, ``write``
- ``tests/fixtures/factories.py``: ``make_round``, ``make_organizer``, ``login``,
  ``make_application``, ``holders``
- ``tests/fixtures/browser.py``: ``browser`` (one chromium per session), ``axe``

Plain helpers (application data, mail parsing, jobs, the browser steps, ``wait_until``) are in
``tests/helpers/``; test modules import those, never another test module or this file."""

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.database",
    "tests.fixtures.factories",
    "tests.fixtures.browser",
]
