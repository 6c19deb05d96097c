"""CPU per POST of the public application form, in-process, against the floor app.

    .venv/bin/python bench/apply_cpu.py [--postgres | --database-url URL] [-n 300] [--profile]

Both apps (the service with its real Redis, ``bench/floor_app.py``) get the same treatment:
Flask's test client GETs the form once for the CSRF token, then POSTs ``-n`` applications
with unique addresses; ``time.process_time()`` over the POSTs divided by their number is the
CPU per POST (the least of ``--repeat`` alternating runs), and a ``before_cursor_execute``
listener counts the SQL statements of a POST. ``--profile`` prints the heaviest functions of
the service's first run (cProfile on CPU time, cumulative). SQLite in a temporary folder
unless ``--database-url`` names an empty PostgreSQL database (emptied!).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.apply import ROUND_FILE, Postgres, empty_database, free_port  # noqa: E402

FORM = {
    "first_name": "Anna",
    "last_name": "Müller",
    "phone": "",
    "body_type": "municipality",
    "state": "DE-BY",
    "role": "mayor",
    "department": "",
    "motivation": "Wir möchten voneinander lernen.",
    "challenge": "Leerstand im Ortskern",
    "commitment": "y",
    "privacy_consent": "y",
}


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


def measure(app, engine, path: str, n: int, tag: str, prof: cProfile.Profile | None) -> dict:
    from sqlalchemy import event

    client = app.test_client()
    token = _token(client.get(path).get_data(as_text=True))
    statements: list[int] = []
    current = [0]

    def count(*_args):
        current[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        for i in range(10):  # warm-up: caches, pooled connections
            data = {**FORM, "email": f"w{tag}{i}@g.example", "organisation": f"W {i}"}
            assert client.post(path, data={**data, "csrf_token": token}).status_code == 302
        start = time.process_time()
        if prof:
            prof.enable()
        for i in range(n):
            current[0] = 0
            data = {**FORM, "email": f"{tag}{i}@g.example", "organisation": f"Gemeinde {i}"}
            response = client.post(path, data={**data, "csrf_token": token})
            assert response.status_code == 302, response.status_code
            statements.append(current[0])
        if prof:
            prof.disable()
        cpu = time.process_time() - start
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return {"ms": 1000 * cpu / n, "statements": max(set(statements), key=statements.count)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="an empty PostgreSQL database (it is emptied)")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL")
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs; the least CPU")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-cpu."))
    cluster = Postgres() if args.postgres else None
    if cluster:
        base = cluster.start()
        service_url, floor_url = base + "forum", base + "floor"
    else:
        service_url = args.database_url or f"sqlite:///{workdir / 'forum.sqlite'}"
        floor_url = args.database_url or f"sqlite:///{workdir / 'floor.sqlite'}"
    empty_database(service_url)
    redis_port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        os.environ.update(
            FORUM_SQLALCHEMY_DATABASE_URI=service_url,
            FORUM_RQ_CONNECTION=f"redis://127.0.0.1:{redis_port}/0",
            FORUM_RATELIMIT_ENABLED="false",
            FORUM_SECRET_KEY="bench-secret",
            FORUM_MAIL_PORT=str(free_port()),
            FLOOR_DATABASE_URL=floor_url,
            FLOOR_CREATE_TABLES="1",
            FORUM_INSTANCE_PATH=str(workdir / "instance"),
        )
        from app import create_app
        from bench.floor_app import create_app as create_floor
        from bench.floor_app import db as floor_db
        from forum.extensions import db

        time.sleep(0.2)  # redis-server up
        service = create_app()
        runner = service.test_cli_runner()
        (workdir / "bench.toml").write_text(ROUND_FILE)
        for command in (["db", "upgrade"], ["forum", "load", str(workdir / "bench.toml")]):
            result = runner.invoke(args=command)
            assert result.exit_code == 0, result.output
        floor = create_floor()
        prof = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not waits
        floors, services = [], []
        for run in range(args.repeat):  # alternating: a load that comes and goes hits both
            with floor.app_context():
                floors.append(measure(floor, floor_db.engine, "/apply", args.n, f"f{run}-", None))
            with service.app_context():
                services.append(
                    measure(
                        service,
                        db.engine,
                        "/rounds/bench-apply/apply",
                        args.n,
                        f"s{run}-",
                        prof if run == 0 else None,
                    )
                )
        floor_result = min(floors, key=lambda r: r["ms"])
        service_result = min(services, key=lambda r: r["ms"])
        backend = "PostgreSQL" if "postgresql" in service_url else "SQLite"
        print(f"CPU per POST in-process ({backend}, {args.n} POSTs each):")
        for name, r in (("floor", floor_result), ("service", service_result)):
            print(f"  {name:8} {r['ms']:6.2f} ms  {r['statements']} SQL statements per POST")
        print(f"  ratio floor / service CPU: {floor_result['ms'] / service_result['ms']:.2f}")
        if prof:
            stats = pstats.Stats(prof)
            stats.sort_stats("cumulative").print_stats(60)
        return 0
    finally:
        redis.terminate()
        redis.wait(10)
        if cluster:
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
