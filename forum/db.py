"""Database plumbing: SQLite tuned for concurrent writers, and the locks that capacity checks need.

SQLite: pysqlite by default opens no transaction for SELECT and emits a deferred ``BEGIN``
only before the first write, so two requests can both read "one seat free" and both write.
We take over transaction control (``isolation_level=None``) and emit the ``BEGIN`` ourselves:
``BEGIN IMMEDIATE`` for every write path (all requests except GET/HEAD, every job and command),
which takes SQLite's single write lock before the first read; plain ``BEGIN`` for GET pages.

PostgreSQL: transactions are READ COMMITTED; write paths that check a capacity lock the row of
the round with ``SELECT … FOR UPDATE`` (:func:`lock_row`), which serializes them per round.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from flask import has_request_context
from sqlalchemy import DateTime, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from .extensions import db

_read_only = contextvars.ContextVar("forum_read_only_transaction", default=False)

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes on both databases; SQLite stores naive UTC, we hand back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def set_read_only(value: bool) -> contextvars.Token:
    """Mark the current context (a GET request) as reading only: SQLite then uses a deferred
    ``BEGIN`` that does not take the write lock. Returns a token for :func:`reset_read_only`."""
    return _read_only.set(value)


def reset_read_only(token: contextvars.Token) -> None:
    _read_only.reset(token)


@contextmanager
def read_only():
    token = _read_only.set(True)
    try:
        yield
    finally:
        _read_only.reset(token)


def configure_engine(engine: Engine, config) -> None:
    """SQLite: transaction control and pragmas. Both: a request waits for a lock at most
    ``SQLITE_REQUEST_BUSY_TIMEOUT_MS`` / ``POSTGRES_REQUEST_LOCK_TIMEOUT_MS`` (then the
    database counts as busy: a 503 page, nothing written); jobs and commands wait longer
    (``SQLITE_BUSY_TIMEOUT_MS``; PostgreSQL's default, no limit)."""
    if engine.dialect.name == "postgresql":
        request_lock_ms = int(config["POSTGRES_REQUEST_LOCK_TIMEOUT_MS"])

        @event.listens_for(engine, "begin")
        def _on_begin_pg(conn):
            if has_request_context():
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {request_lock_ms}")

        return
    if engine.dialect.name != "sqlite":
        return
    busy_ms = int(config["SQLITE_BUSY_TIMEOUT_MS"])
    request_busy_ms = int(config["SQLITE_REQUEST_BUSY_TIMEOUT_MS"])

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        timeout = request_busy_ms if has_request_context() else busy_ms
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {timeout}")
        conn.exec_driver_sql("BEGIN" if _read_only.get() else "BEGIN IMMEDIATE")


def lock_row(model: type[T], pk: int) -> T:
    """Load a row for update: ``SELECT … FOR UPDATE`` on PostgreSQL (a no-op on SQLite, where
    the transaction already holds the write lock since ``BEGIN IMMEDIATE``). Refreshes the
    identity map so the values read are those after the lock was granted."""
    stmt = (
        select(model)
        .where(model.id == pk)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return db.session.execute(stmt).scalar_one()
