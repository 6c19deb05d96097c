"""Benchmark: the public application form under load, against the floor of a minimal
Flask + Flask-WTF + Flask-SQLAlchemy app that stores one row per POST, measured in the same run.

    .venv/bin/python bench/apply.py                  # SQLite in a temporary folder
    .venv/bin/python bench/apply.py --postgres       # a PostgreSQL cluster started for the run
    .venv/bin/python bench/apply.py --database-url postgresql+psycopg://…/bench
    .venv/bin/python bench/apply.py --profile        # also a py-spy profile of one web worker

Both apps run under gunicorn with the same settings (``--workers 2 --threads 4``, as the run
command starts the service) and are driven from another process by wrk (Debian's ``wrk``;
installed when missing): each wrk thread GETs the form once for its session cookie and CSRF
token, then POSTs applications with unique addresses for ``--duration`` seconds. The service
runs with its real Redis (each application queues its confirmation mail) and with the rate
limiter off. Prints both rates (successful POSTs per second) and the ratio service / floor,
and checks afterwards that every successful POST stored exactly one application.

The database is emptied first: never point it at a database you need.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

LUA = r"""
-- Globals, so that done() can read them from each thread with thread:get().
threads = {}
counter = 0
token = nil
cookie = nil
ok = 0
bad = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function request()
  if token == nil then
    return wrk.format("GET", "%(path)s")
  end
  counter = counter + 1
  local body = "csrf_token=" .. token ..
    "&first_name=Anna&last_name=M%%C3%%BCller&email=r%(run)s-" .. id .. "-" .. counter ..
    "%%40gemeinde-" .. id .. "-" .. counter .. ".example&phone=&organisation=Gemeinde+" ..
    id .. "-" .. counter .. "&body_type=municipality&state=DE-BY&role=mayor&department=" ..
    "&motivation=Wir+m%%C3%%B6chten+voneinander+lernen.&challenge=Leerstand+im+Ortskern" ..
    "&commitment=y&privacy_consent=y"
  return wrk.format("POST", "%(path)s",
    {["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = cookie}, body)
end

function response(status, headers, body)
  if token == nil then
    local c = headers["Set-Cookie"] or headers["set-cookie"]
    local t = body:match('name="csrf_token" type="hidden" value="([^"]+)"')
      or body:match('id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"')
    if c and t then
      cookie = c:match("^([^;]+)")
      token = t
    end
    return
  end
  -- 200: one of the first GETs still in flight when the token arrived.
  if status == 302 then ok = ok + 1 elseif status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_bad = 0, 0
  for _, t in ipairs(threads) do
    total_ok = total_ok + t:get("ok")
    total_bad = total_bad + t:get("bad")
  end
  io.write(string.format("RESULT ok=%%d bad=%%d seconds=%%.3f p50_ms=%%.1f p99_ms=%%.1f\n",
    total_ok, total_bad, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""

ROUND_FILE = """
[forum]
slug = "bench"
title = "Benchmark"
summary = "Benchmark"
description = "Benchmark"

[[rounds]]
slug = "bench-apply"
title = "Benchmark"
seats = 24
opens = 2020-01-01T00:00:00+01:00
closes = 2099-01-01T00:00:00+01:00
admission = "review"
states = ["DE-BY", "DE-BW"]
roles = ["lord_mayor", "mayor", "deputy"]
body_types = ["city", "municipality"]

[[rounds.meetings]]
title = "1. Arbeitstreffen"
starts = 2099-03-10T10:00:00+01:00
ends = 2099-03-11T16:00:00+01:00
venue = "Nürnberg"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not come up")


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        print(">> installing Debian's wrk", flush=True)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True)
        wrk = shutil.which("wrk")
    assert wrk
    return wrk


class Postgres:
    """A throw-away cluster (as the test command starts one)."""

    def __init__(self):
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg."))
        self.port = free_port()
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def start(self) -> str:
        if self.as_pg:
            shutil.chown(self.dir, "postgres")
        data = self.dir / "data"
        subprocess.run(
            [*self.as_pg, str(self.bin / "initdb"), "-D", str(data), "-U", "postgres"]
            + ["--auth=trust", "-E", "UTF8"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=100"
        subprocess.run(
            [*self.as_pg, str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "log")]
            + ["-w", "-o", opts, "start"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for name in ("forum", "floor"):
            subprocess.run(
                [*self.as_pg, str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port)]
                + ["-U", "postgres", name],
                check=True,
            )
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/"

    def stop(self) -> None:
        subprocess.run(
            [*self.as_pg, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast"]
            + ["stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


def empty_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    if url.startswith("sqlite"):
        return
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def gunicorn(app: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{port}"]
        + ["--log-level", "warning", app],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def run_wrk(wrk: str, url: str, path: str, args, workdir: Path, name: str, run: int) -> dict:
    script = workdir / f"{name}.lua"
    script.write_text(LUA % {"path": path, "run": run})  # unique addresses in every run
    proc = subprocess.run(
        [wrk, "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s"]
        + ["--timeout", "30s", "-s", str(script), url],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise SystemExit(f"wrk failed: {proc.stderr}")
    out = proc.stdout
    match = re.search(
        r"RESULT ok=(\d+) bad=(\d+) seconds=([\d.]+) p50_ms=([\d.]+) p99_ms=([\d.]+)", out
    )
    if not match:
        raise SystemExit(f"wrk printed no result:\n{out}")
    ok, bad, seconds, p50, p99 = match.groups()
    return {
        "ok": int(ok),
        "bad": int(bad),
        "rate": int(ok) / float(seconds),
        "p50": float(p50),
        "p99": float(p99),
    }


def combine(runs: list[dict]) -> dict:
    """The median run by rate, with the counts of all runs."""
    ordered = sorted(runs, key=lambda r: r["rate"])
    median = dict(ordered[len(ordered) // 2])
    median["ok"] = sum(r["ok"] for r in runs)
    median["bad"] = sum(r["bad"] for r in runs)
    median["rates"] = [round(r["rate"], 1) for r in runs]
    return median


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def profile(pid: int, seconds: int, out: Path) -> subprocess.Popen | None:
    spy = shutil.which("py-spy") or str(BIN / "py-spy")
    if not Path(spy).exists():
        subprocess.run([str(BIN / "pip"), "install", "-q", "py-spy"], check=True)
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(seconds), "--format", "raw"]
        + ["--output", str(out), "--nonblocking", "--gil"],  # CPU: samples holding the GIL
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL of an empty PostgreSQL database")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each app")
    parser.add_argument("--profile", action="store_true", help="py-spy profile of one worker")
    args = parser.parse_args()

    wrk = ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="bench-apply."))
    cluster = None
    if args.postgres:
        cluster = Postgres()
        base = cluster.start()
        service_url, floor_url = base + "forum", base + "floor"
    elif args.database_url:
        service_url = floor_url = args.database_url
    else:
        service_url = f"sqlite:///{workdir / 'forum.sqlite'}"
        floor_url = f"sqlite:///{workdir / 'floor.sqlite'}"

    redis_port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    procs: list[subprocess.Popen] = [redis]
    try:
        env = {
            **os.environ,
            "FLASK_APP": "app",
            "FORUM_SQLALCHEMY_DATABASE_URI": service_url,
            "FORUM_RQ_CONNECTION": f"redis://127.0.0.1:{redis_port}/0",
            "FORUM_RATELIMIT_ENABLED": "false",
            "FORUM_SECRET_KEY": "bench-secret",
            "FORUM_MAIL_PORT": str(free_port()),  # no worker runs: mail stays queued
            "FLOOR_DATABASE_URL": floor_url,
        }
        empty_database(service_url)
        if floor_url != service_url:
            empty_database(floor_url)
        subprocess.run(
            [sys.executable, "-c", "from bench.floor_app import create_app; create_app()"],
            cwd=ROOT,
            env={**env, "FLOOR_CREATE_TABLES": "1"},
            check=True,
        )
        (workdir / "bench.toml").write_text(ROUND_FILE)
        flask = str(BIN / "flask")
        subprocess.run([flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        subprocess.run(
            [flask, "forum", "load", str(workdir / "bench.toml")],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )

        # Alternating runs (floor, service, floor, …): a load that comes and goes on the
        # machine hits both alike; each rate is the median of its runs.
        runs: dict[str, list[dict]] = {"floor": [], "service": []}
        servers = {}
        for name, app, path in (
            ("floor", "bench.floor_app:create_app()", "/apply"),
            ("service", "app:create_app()", "/rounds/bench-apply/apply"),
        ):
            port = free_port()
            server = gunicorn(app, port, env, workdir / f"{name}.log")
            procs.append(server)
            wait_http(f"http://127.0.0.1:{port}{path}")
            servers[name] = (server, port, path)
        for n in range(args.rounds):
            for name, (server, port, path) in servers.items():
                spy = None
                if args.profile and name == "service" and n == 0:
                    spy = profile(
                        worker_pids(server.pid)[0], args.duration, workdir / "service.profile.txt"
                    )
                runs[name].append(
                    run_wrk(wrk, f"http://127.0.0.1:{port}", path, args, workdir, name, n)
                )
                if spy:
                    spy.wait(60)
        for server, _port, _path in servers.values():
            stop(server)
        results = {name: combine(rs) for name, rs in runs.items()}

        stored = count_applications(service_url)
        floor, service = results["floor"], results["service"]
        backend = "PostgreSQL" if "postgresql" in service_url else "SQLite"
        print(f"apply benchmark on {backend}: gunicorn 2 workers x 4 threads, wrk ", end="")
        print(
            f"{args.threads} threads / {args.connections} connections, "
            f"{args.rounds} x {args.duration} s each, alternating"
        )
        for name, r in (("floor", floor), ("service", service)):
            print(
                f"  {name:8} {r['rate']:7.1f} applications/s median of {r['rates']} "
                f"(p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms; {r['ok']} stored, "
                f"{r['bad']} errors)"
            )
        print(f"  ratio service / floor: {service['rate'] / floor['rate']:.2f}")
        if args.profile:
            print(f"  profile: {workdir / 'service.profile.txt'} (py-spy raw, collapsed stacks)")
            summarize_profile(workdir / "service.profile.txt")
        # POSTs still in flight when wrk stops are stored without being counted: at most one
        # per connection.
        slack = args.connections * args.rounds
        if not 0 <= stored - service["ok"] <= slack or service["bad"] or floor["bad"]:
            print(f"  MISMATCH: {stored} applications stored for {service['ok']} redirects")
            return 1
        return 0
    finally:
        for proc in reversed(procs):
            stop(proc)
        if cluster:
            cluster.stop()


def count_applications(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM application")).scalar_one()
    engine.dispose()
    return int(count)


#: The parts of a POST the profile summary names: (label, the frame that stands for it).
PARTS = (
    ("the request in Flask (all below)", "Flask.wsgi_app (flask/app.py"),
    ("the view", "apply (registration/views.py"),
    ("building the form", "ApplicationForm.__init__ (registration/forms.py"),
    ("the round's choices in the form", "ApplicationForm.for_round (registration/forms.py"),
    ("validating the form", "FlaskForm.validate_on_submit (flask_wtf/form.py"),
    ("reading the round", "round_facts (forum/models.py"),
    ("storing (submit_application)", "submit_application (registration/services.py"),
    ("  of it the inserts", "_insert_application (registration/services.py"),
    ("commit", "scoped_session.commit (sqlalchemy/orm/scoping.py"),
    ("CSRF check", "CSRFProtect.protect (flask_wtf/csrf.py"),
    ("session read", "SecureCookieSessionInterface.open_session (flask/sessions.py"),
    ("session written", "SecureCookieSessionInterface.save_session (flask/sessions.py"),
)


def summarize_profile(path: Path, top: int = 25) -> None:
    """Share of the samples (taken while the worker held the GIL: its CPU in Python) per part
    of a POST, then the heaviest frames outside the thread machinery (inclusive)."""
    if not path.exists():
        print("  (no profile written)")
        return
    totals: dict[str, int] = {}
    all_samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        all_samples += n
        seen = set()
        for frame in stack.split(";"):
            name = re.sub(r" \(.*?:\d+\)$", "", frame)
            file = re.search(r"\((.*?):\d+\)", frame)
            where = file.group(1) if file else ""
            where = where.split("site-packages/")[-1].split(str(ROOT) + "/")[-1]
            key = f"{name} ({where}"
            if key not in seen:
                seen.add(key)
                totals[key] = totals.get(key, 0) + n
    share = lambda n: f"{100 * n / max(all_samples, 1):5.1f}%"  # noqa: E731
    print(f"  profile of one worker: {all_samples} samples holding the GIL; parts of a POST:")
    for label, frame in PARTS:
        print(f"    {share(totals.get(frame, 0))}  {label}")
    print("  heaviest frames (inclusive):")
    skip = ("threading.py", "concurrent/futures", "gunicorn/arbiter", "gunicorn/app")
    frames = [kv for kv in totals.items() if not any(s in kv[0] for s in skip)]
    for key, n in sorted(frames, key=lambda kv: -kv[1])[:top]:
        print(f"    {share(n)}  {key})")


if __name__ == "__main__":
    sys.exit(main())
