#!/usr/bin/env bash
# Install what the tests need (Redis, PostgreSQL, Chromium, the package with its test extra)
# and run the whole suite twice: on SQLite, then on a PostgreSQL server started for the run.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

need_apt redis-server postgresql chromium curl
command -v npm >/dev/null || need_apt nodejs npm
ensure_venv "[test]"
# axe-core for the accessibility test (tests/test_accessibility.py), pinned in package-lock.json
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo ">> npm ci (axe-core)"
  npm ci --no-audit --no-fund --silent
fi
PY="$VENV/bin/python"

echo ">> ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check . >/dev/null || { "$VENV/bin/ruff" format --diff . | head -50; exit 1; }

echo ">> mypy"
"$VENV/bin/mypy"

# run_tests MARK-EXPRESSION [pytest arguments]: the tests without the ``serial`` marker on
# $TEST_WORKERS pytest-xdist workers (default 2; each has its own Redis, SMTP server, gunicorn
# and database), then the serial ones alone: they measure time or load the machine.
TEST_WORKERS="${TEST_WORKERS:-2}"
run_tests() {
  local expr="${1:+($1) and }" rc=0
  shift
  # -p xdist: named, because tests/unit/pytest.ini (the fast tier run alone) loads no plugin
  # by itself; with pyproject.toml it is loaded anyway and naming it changes nothing.
  "$PY" -m pytest -q -p no:cacheprovider -p xdist -n "$TEST_WORKERS" -m "${expr}not serial" "$@" || rc=$?
  [ $rc = 5 ] && rc=0 # no test selected (the arguments name only serial ones)
  "$PY" -m pytest -q -p no:cacheprovider -m "${expr}serial" "$@" || { r=$?; [ $r = 5 ] || rc=$r; }
  return $rc
}

status=0
echo ">> tests on SQLite"
run_tests "" "$@" || status=1

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
PG_DIR="$(mktemp -d /tmp/forum-pg.XXXXXX)"
PG_PORT="${PG_PORT:-55432}"
chown postgres "$PG_DIR" 2>/dev/null || true
pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_pg() { pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$PG_DIR"; }
trap stop_pg EXIT
pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
  -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres forum_test

# The browser tests (axe, phone and desktop sizes) look at pages, which do not depend on the
# database: they run once, on SQLite; so do the tests that use no database (tests/conftest.py
# leaves them out of this run). Everything else runs again on PostgreSQL.
echo ">> tests on PostgreSQL (without the browser tests and those that use no database)"
FORUM_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/forum_test" \
  run_tests "not browser" "$@" || status=1

[ $status = 0 ] && echo ">> all passed on SQLite and PostgreSQL" || echo ">> FAILURES (see above)"
exit $status
