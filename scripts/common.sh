# Shared by run.sh and test.sh: Debian packages and the virtual environment.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FORUM_VENV:-$ROOT/.venv}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt() {
  # need_apt PACKAGE [COMMAND-THAT-SHOWS-IT-IS-THERE]
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo ">> installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

ensure_venv() {
  local extra="${1:-}"
  if [ ! -x "$VENV/bin/python" ]; then
    # Debian's python3 comes without venv/ensurepip: the package python3-venv brings them.
    python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need_apt python3-venv
    echo ">> creating virtual environment in $VENV"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.installed$extra"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    echo ">> installing the package ${extra:+with $extra}"
    "$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
    "$VENV/bin/pip" install -q -e "$ROOT$extra" 2>&1 | grep -v "^WARNING: Location" || true
    "$VENV/bin/python" -c "import flask, flask_rq, forum" >/dev/null
    touch "$stamp"
  fi
  "$VENV/bin/pybabel" compile -q -d "$ROOT/translations" 2>/dev/null || true
}
