#!/usr/bin/env bash
# Start the whole service for development: Redis, the mail catcher, the RQ worker and
# scheduler, and the web server, on SQLite with demo data. Ctrl-C stops everything.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

need_apt redis-server
ensure_venv

PORT="${PORT:-5000}"
REDIS_PORT="${REDIS_PORT:-6379}"
SMTP_PORT="${SMTP_PORT:-8025}"
export FLASK_APP=app
export FORUM_DEV_MAIL_INBOX=true
export FORUM_PUBLIC_BASE_URL="${FORUM_PUBLIC_BASE_URL:-http://localhost:$PORT}"
export FORUM_RQ_CONNECTION="${FORUM_RQ_CONNECTION:-redis://127.0.0.1:$REDIS_PORT/0}"
export FORUM_MAIL_SERVER=127.0.0.1 FORUM_MAIL_PORT="$SMTP_PORT"
export FORUM_MAINTENANCE_INTERVAL="${FORUM_MAINTENANCE_INTERVAL:-30}"
FLASK="$VENV/bin/flask"
mkdir -p "$ROOT/instance/logs"
LOGS="$ROOT/instance/logs"

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo ">> stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    >"$LOGS/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

"$FLASK" db upgrade >/dev/null
"$FLASK" forum load demo/meine-kommune-weiterdenken.toml
"$FLASK" forum load demo/kommune-gemeinsam-gestalten.toml
"$FLASK" forum load demo/netzwerkarbeit.toml
if "$FLASK" organizer --help >/dev/null 2>&1; then
  "$FLASK" organizer demo
fi

"$FLASK" dev mailcatcher --port "$SMTP_PORT" >"$LOGS/mailcatcher.log" 2>&1 & pids+=($!)
# Transactional mail has its own worker, so that a newsletter dispatch never delays it.
"$FLASK" rq worker mail default >"$LOGS/worker.log" 2>&1 & pids+=($!)
"$FLASK" rq worker bulk >"$LOGS/worker-bulk.log" 2>&1 & pids+=($!)
"$FLASK" rq cron >"$LOGS/cron.log" 2>&1 & pids+=($!)
"$VENV/bin/gunicorn" --workers 2 --threads 4 --bind "127.0.0.1:$PORT" \
  --access-logfile "$LOGS/access.log" "app:create_app()" >"$LOGS/web.log" 2>&1 & pids+=($!)

for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
cat <<INFO

  Kommunalforum is running:
    web            http://localhost:$PORT/
    dev mail inbox http://localhost:$PORT/dev/mail/
    organizers     http://localhost:$PORT/admin/login
    logs           $LOGS/
  Ctrl-C stops everything.

INFO
wait -n "${pids[@]}" || true
echo ">> a process ended; see $LOGS/"
