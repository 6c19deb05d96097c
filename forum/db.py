"""Database plumbing: SQLite tuned for concurrent writers, and the locks that capacity checks need.

SQLite: pysqlite by default opens no transaction for SELECT and emits a deferred ``BEGIN``
only before the first write, so two requests can both read "one seat free" and both write.
We take over transaction control (``isolation_level=None``) and emit the ``BEGIN`` ourselves:
``BEGIN IMMEDIATE`` for every write path (all requests except GET/HEAD, every job and command),
which takes SQLite's single write lock before the first read; plain ``BEGIN`` for GET pages.

A write path that mostly reads and validates (the public application form) does not hold the
write lock for all of that: its view is wrapped in :func:`reads_first`, its reads run without a
transaction (each statement is its own read, as in SQLite's autocommit mode; such a view reads
what it needs in one or two statements), and its service calls :func:`begin_writes` just before
the first write, which begins the transaction on the same connection with ``BEGIN IMMEDIATE``.
Everything decided under the lock (is the address already applying?) is read again after
``begin_writes``. A flush with changes before ``begin_writes`` is a programming error and
raises, so a forgotten call cannot turn into SQLite's "database is locked".

PostgreSQL: transactions are READ COMMITTED; write paths that check a capacity lock the row of
the round with ``SELECT … FOR UPDATE`` (:func:`lock_row`), which serializes them per round.
"""

from __future__ import annotations

import contextvars
import random
import sqlite3
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar, cast

from flask import has_request_context
from sqlalchemy import DateTime, event, select
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.types import TypeDecorator

from .extensions import db

_read_only = contextvars.ContextVar("forum_read_only_transaction", default=False)
_reads_first = contextvars.ContextVar("forum_reads_first", default=False)

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


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


def reads_first(view: Callable[P, R]) -> Callable[P, R]:
    """Decorate a POST view that reads and validates before it writes: see the module doc."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        read_token = _read_only.set(True)
        first_token = _reads_first.set(True)
        try:
            return view(*args, **kwargs)
        finally:
            _reads_first.reset(first_token)
            _read_only.reset(read_token)

    return wrapper


def begin_writes() -> None:
    """In a :func:`reads_first` view: take the write lock (on SQLite, ``BEGIN IMMEDIATE``
    with the short polls of :func:`_begin_immediate`; on PostgreSQL row locks do that job and
    the transaction simply goes on).

    The lock is taken before the first write rather than by it (a deferred ``BEGIN``): the
    write would wait in SQLite's own busy handler, whose sleeps grow to 100 ms, and under
    load a few POSTs waited a second (``bench/apply.py``: p99 0.4–1.1 s, with the polls
    0.13–0.17 s, at the same or a higher rate)."""
    if not _reads_first.get():
        return
    _reads_first.set(False)
    _read_only.set(False)
    session = db.session()
    if session.get_bind().dialect.name != "sqlite" or not session.in_transaction():
        return  # the first statement begins the transaction (see ``_on_begin``)
    # The reads ran without BEGIN on the session's connection: begin the transaction there
    # (no commit and no second checkout from the pool; what was read stays loaded).
    conn = session.connection()
    _begin_immediate(conn, int(conn.connection.info["busy_timeout"]))


@event.listens_for(Session, "before_flush")
def _writes_need_the_lock(session: Session, _context, _instances) -> None:
    if _reads_first.get() and (session.new or session.dirty or session.deleted):
        raise RuntimeError("write in a reads_first view before begin_writes()")


def configure_engine(engine: Engine, config) -> None:
    """SQLite: transaction control and pragmas. Both: a request waits for a lock at most
    ``SQLITE_REQUEST_BUSY_TIMEOUT_MS`` / ``POSTGRES_REQUEST_LOCK_TIMEOUT_MS`` (then the
    database counts as busy: a 503 page, nothing written); jobs and commands wait longer
    (``SQLITE_BUSY_TIMEOUT_MS``; PostgreSQL's default, no limit)."""
    if engine.dialect.name == "postgresql":
        request_lock_ms = int(config["POSTGRES_REQUEST_LOCK_TIMEOUT_MS"])

        @event.listens_for(engine, "begin")
        def _on_begin_pg(conn):
            # Set for the connection's session and only when it changes (one round trip per
            # transaction fewer): requests wait at most request_lock_ms, all else has no limit.
            wanted = request_lock_ms if has_request_context() else 0
            info = conn.connection.info
            if info.get("lock_timeout", 0) != wanted:
                conn.exec_driver_sql(f"SET lock_timeout = {wanted}")
                info["lock_timeout"] = wanted

        @event.listens_for(engine, "rollback")
        def _on_rollback_pg(conn):
            # A rolled-back transaction takes its SET with it: set again at the next begin.
            conn.connection.info["lock_timeout"] = None

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
        _record.info["busy_timeout"] = busy_ms

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        timeout = request_busy_ms if has_request_context() else busy_ms
        if _read_only.get():
            info = conn.connection.info  # the pooled connection's: set only when it changes
            if info.get("busy_timeout") != timeout:
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {timeout}")
                info["busy_timeout"] = timeout
            if not _reads_first.get():  # a reads_first view reads without a transaction
                conn.exec_driver_sql("BEGIN")
        else:
            _begin_immediate(conn, timeout)


def _begin_immediate(conn, timeout_ms: int) -> None:
    """``BEGIN IMMEDIATE``, waiting for the write lock by polling in short steps.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms between
    tries, so under steady contention a waiter sleeps long after the lock came free and writers
    queue up (the public form fell to a tenth of a minimal app's rate). Here a waiter looks again
    after 0.2 to 2 ms (with jitter, so that waiters do not move in step) until the timeout has
    passed; the last try goes through SQLAlchemy, so that "database is locked" reaches the
    caller as the usual OperationalError (a request answers 503)."""
    cursor = conn.connection.dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + timeout_ms / 1000
        pause = 0.0002
        while time.monotonic() < deadline:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
            time.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 0.002)
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        cursor.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
        cursor.close()
        conn.connection.info["busy_timeout"] = int(timeout_ms)


def lock_row(model: type[T], pk: int) -> T:
    """Load a row for update: ``SELECT … FOR UPDATE`` on PostgreSQL (a no-op on SQLite, where
    the transaction already holds the write lock since ``BEGIN IMMEDIATE``). Refreshes the
    identity map so the values read are those after the lock was granted."""
    stmt = (
        select(model).filter_by(id=pk).with_for_update().execution_options(populate_existing=True)
    )
    return db.session.execute(stmt).scalar_one()


def execute_dml(statement: UpdateBase) -> CursorResult[Any]:
    """Run an INSERT, UPDATE or DELETE in the session and return its cursor result, whose
    ``rowcount`` says how many rows matched. (``Session.execute`` is typed as returning a plain
    ``Result``, which has no ``rowcount``; for these statements it is a ``CursorResult``.)"""
    return cast(CursorResult[Any], db.session.execute(statement))
