"""Benchmark of the newsletter dispatch against a plain smtplib loop.

    python bench/newsletter.py                 # N = 20,000
    python bench/newsletter.py --n 5000 --n 20000

For each N, in a temporary folder with its own SQLite database, its own redis-server on a
free port and a local aiosmtpd server in its own process:

1. import N subscribers (``flask newsletter import``), load a forum with one round;
2. ``flask newsletter announce`` and two workers (``flask rq worker bulk``, each job in its
   own work-horse process as in production); time from the announce command until the SMTP
   server has accepted the N-th mail; sample the peak memory of the workers and their
   work-horses;
3. a plain loop: one smtplib connection, N mails of the same content (text and HTML,
   quoted-printable, a personal unsubscribe link), built with ``email.message`` and sent one
   after the other to a fresh server of the same kind; time until the N-th mail is accepted.

Prints mails/s for both, the ratio, and the peak memory (RSS) of the worker processes.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the SMTP server process ---------------------------------------------------------------------


def smtp_server_main(port: int, expected: int, sample_path: str) -> None:
    """Run in a child process: count accepted mails, print the time of the N-th, keep one
    sample message for the plain loop."""
    from aiosmtpd.controller import Controller

    class Counter:
        count = 0

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            Counter.count += 1
            if Counter.count == 1 and sample_path:
                Path(sample_path).write_bytes(envelope.original_content)
            if Counter.count == expected:
                print(f"DONE {time.time():.6f}", flush=True)
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        controller.stop()


class SMTPProcess:
    def __init__(self, expected: int, sample_path: str = ""):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--smtp-server", str(self.port), str(expected), sample_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "READY"

    def wait_done(self, timeout: float) -> float:
        result: list[float] = []

        def read():
            line = self.proc.stdout.readline()
            if line.startswith("DONE"):
                result.append(float(line.split()[1]))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not result:
            raise TimeoutError("the SMTP server did not receive all mails in time")
        return result[0]

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


# --- memory of the workers -----------------------------------------------------------------------


class MemorySampler(threading.Thread):
    """Samples the memory of the given processes and their children (the work-horses): the
    largest resident set seen (VmRSS, sampled every 20 ms) and the kernel's high-water mark
    (VmHWM, which also counts short peaks between samples)."""

    def __init__(self, roots: list[int]):
        super().__init__(daemon=True)
        self.roots = set(roots)
        self.peak_worker_kb = 0
        self.peak_horse_kb = 0
        self.rss_worker_kb = 0
        self.rss_horse_kb = 0
        self.horses: set[int] = set()
        self.last_rss: dict[int, int] = {}  # per work-horse: its RSS at the last sample
        self._halt = threading.Event()

    @staticmethod
    def _children() -> dict[int, int]:
        parents = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        return parents

    @staticmethod
    def _memory(pid: int) -> tuple[int, int]:
        """(VmRSS, VmHWM) in kB."""
        values = {"VmRSS:": 0, "VmHWM:": 0}
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key = line.split(":", 1)[0] + ":"
                if key in values:
                    values[key] = int(line.split()[1])
        except OSError:
            pass
        return values["VmRSS:"], values["VmHWM:"]

    def run(self) -> None:
        while not self._halt.is_set():
            parents = self._children()
            for pid in self.roots:
                rss, hwm = self._memory(pid)
                self.rss_worker_kb = max(self.rss_worker_kb, rss)
                self.peak_worker_kb = max(self.peak_worker_kb, hwm)
            for pid, ppid in parents.items():
                if ppid in self.roots:
                    self.horses.add(pid)
                    rss, hwm = self._memory(pid)
                    if rss:
                        self.last_rss[pid] = rss
                    self.rss_horse_kb = max(self.rss_horse_kb, rss)
                    self.peak_horse_kb = max(self.peak_horse_kb, hwm)
            time.sleep(0.02)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


# --- one run -------------------------------------------------------------------------------------

FORUM_FILE = """
[forum]
slug = "bench-forum"
title = "Meine Kommune weiterdenken"
summary = "Forum für Entscheidungsträger*innen aus Bayern und Baden-Württemberg"
description = "Ein Forum zum Benchmark."

[[rounds]]
slug = "bench-runde"
title = "Staffel 2027"
seats = 24
opens = {opens}
closes = {closes}
admission = "review"
states = ["DE-BY", "DE-BW"]
roles = ["lord_mayor", "mayor", "district_administrator", "deputy", "head_of_office"]
body_types = ["city", "municipality", "district"]

[[rounds.meetings]]
title = "1. Arbeitstreffen"
starts = {m1}
ends = {m1e}
venue = "Nürnberg"
address = "Rathausplatz 2"

[[rounds.meetings]]
title = "2. Arbeitstreffen"
starts = {m2}
ends = {m2e}
venue = "Stuttgart"
"""


def _toml_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def run_flask(env: dict, *args: str, input_text: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        input=input_text,
    )
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def start_redis(folder: Path) -> tuple[subprocess.Popen, int]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return proc, port


def plain_loop(n: int, sample_path: Path, timeout: float) -> float:
    """N mails like the sample over one smtplib connection; returns mails/s."""
    sample = message_from_bytes(sample_path.read_bytes(), policy=policy.default)
    subject = str(sample["Subject"])
    text = sample.get_body(preferencelist=("plain",)).get_content()
    html = sample.get_body(preferencelist=("html",)).get_content()
    link = str(sample["List-Unsubscribe"]).strip("<>").split(">")[0]
    server = SMTPProcess(n)
    try:
        started = time.time()
        with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as conn:
            for i in range(n):
                personal = f"{link[:-12]}{i:012d}"
                msg = EmailMessage()
                msg["Subject"] = subject
                msg["From"] = "Kommunalforum <noreply@bench.example.org>"
                msg["To"] = f"leser{i}@kommune.example"
                msg["List-Unsubscribe"] = f"<{personal}>"
                msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
                msg["List-Id"] = '"Kommunalforum Newsletter" <newsletter.bench.example.org>'
                msg.set_content(text.replace(link, personal), cte="quoted-printable")
                msg.add_alternative(
                    html.replace(link, personal), subtype="html", cte="quoted-printable"
                )
                conn.send_message(msg)
        done = server.wait_done(timeout)
    finally:
        server.stop()
    return n / (done - started)


def run(n: int, workers: int, batch_size: int | None, keep: bool) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="newsletter-bench-"))
    redis_proc, redis_port = start_redis(folder)
    smtp = None
    worker_procs: list[subprocess.Popen] = []
    try:
        env = {
            **os.environ,
            "FORUM_INSTANCE_PATH": str(folder / "instance"),
            "FORUM_SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite'}",
            "FORUM_RQ_CONNECTION": f"redis://127.0.0.1:{redis_port}/0",
            "FORUM_SECRET_KEY": "bench-secret",
            "FORUM_PUBLIC_BASE_URL": "https://bench.example.org",
            "FORUM_RATELIMIT_ENABLED": "false",
            "FORUM_MAIL_SERVER": "127.0.0.1",
            "FORUM_NEWSLETTER_RATE_PER_MINUTE": "0",
            "PYTHONUNBUFFERED": "1",
        }
        if batch_size:
            env["FORUM_NEWSLETTER_BATCH_SIZE"] = str(batch_size)
        run_flask(env, "db", "upgrade")
        now = datetime.now(UTC)
        (folder / "forum.toml").write_text(
            FORUM_FILE.format(
                opens=_toml_time(now - timedelta(days=1)),
                closes=_toml_time(now + timedelta(days=60)),
                m1=_toml_time(now + timedelta(days=90)),
                m1e=_toml_time(now + timedelta(days=91)),
                m2=_toml_time(now + timedelta(days=150)),
                m2e=_toml_time(now + timedelta(days=151)),
            ),
            encoding="utf-8",
        )
        run_flask(env, "forum", "load", str(folder / "forum.toml"))
        with (folder / "subscribers.csv").open("w", encoding="utf-8") as f:
            f.write("email,name,consented_at\n")
            for i in range(n):
                f.write(f"leser{i}@kommune-{i % 97}.example,Leser*in {i},2024-03-01\n")
        started = time.perf_counter()
        print(run_flask(env, "newsletter", "import", str(folder / "subscribers.csv")).strip())
        import_seconds = time.perf_counter() - started

        sample = folder / "sample.eml"
        smtp = SMTPProcess(n, str(sample))
        env["FORUM_MAIL_PORT"] = str(smtp.port)
        timeout = max(60.0, n / 100)

        started = time.time()
        announcement_id = run_flask(env, "newsletter", "announce", "bench-runde").strip()
        logs = []
        for number in range(workers):
            logs.append((folder / f"worker-{number + 1}.log").open("w"))
            worker_procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "flask",
                        "--app",
                        "app",
                        "rq",
                        "worker",
                        "bulk",
                        "--max-idle-time",
                        "15",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=logs[-1],
                    stderr=subprocess.STDOUT,
                )
            )
        # The scheduler, as the run command starts it: retries of deferred deliveries and
        # stalled batches are the maintenance run's work (no RQ scheduler needed).
        logs.append((folder / "cron.log").open("w"))
        cron = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "rq", "cron"],
            cwd=ROOT,
            env={**env, "FORUM_MAINTENANCE_INTERVAL": "5"},
            stdout=logs[-1],
            stderr=subprocess.STDOUT,
        )
        sampler = MemorySampler([p.pid for p in worker_procs])
        sampler.start()
        worker_procs.append(cron)  # stopped with the workers (not sampled)
        try:
            done = smtp.wait_done(timeout)
        except TimeoutError:
            for log in logs:
                log.flush()
                print(f"--- {log.name}")
                print(Path(log.name).read_text()[-4000:])
            raise
        for proc in worker_procs:
            proc.terminate()  # warm shutdown; they are idle now
            proc.wait(60)
        sampler.stop()
        worker_rate = n / (done - started)
        children_max_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        smtp.stop()
        smtp = None
        status = run_flask(
            env,
            "shell",
            input_text=(
                "from forum.newsletter.models import Delivery\n"
                "from sqlalchemy import func, select\n"
                "from forum.extensions import db\n"
                "print('STATUS', dict(db.session.execute(select(Delivery.status, "
                "func.count()).group_by(Delivery.status)).all()))\n"
            ),
        )
        deliveries = next(
            (line for line in status.splitlines() if "STATUS" in line), "STATUS ?"
        ).split("STATUS ", 1)[1]

        loop_rate = plain_loop(n, sample, timeout)
        return {
            "n": n,
            "announcement": announcement_id,
            "import_s": import_seconds,
            "worker_rate": worker_rate,
            "loop_rate": loop_rate,
            "ratio": worker_rate / loop_rate,
            "peak_worker_mb": sampler.peak_worker_kb / 1024,
            "peak_horse_mb": sampler.peak_horse_kb / 1024,
            "rss_worker_mb": sampler.rss_worker_kb / 1024,
            "rss_horse_mb": sampler.rss_horse_kb / 1024,
            "final_horse_mb": max(sampler.last_rss.values(), default=0) / 1024,
            "horses": len(sampler.horses),
            "children_maxrss_mb": children_max_kb / 1024,
            "deliveries": deliveries,
        }
    finally:
        for proc in worker_procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        if smtp is not None:
            smtp.stop()
        redis_proc.terminate()
        redis_proc.wait(10)
        if keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--smtp-server":
        smtp_server_main(
            int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else ""
        )
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, action="append", help="subscribers (repeatable)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None, help="NEWSLETTER_BATCH_SIZE")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    results = [run(n, args.workers, args.batch_size, args.keep) for n in (args.n or [20_000])]
    print()
    print(
        f"{'N':>7} {'workers mails/s':>16} {'plain loop mails/s':>19} {'ratio':>6} "
        f"{'worker RSS/HWM MB':>18} {'work-horse RSS/HWM MB':>22} {'jobs':>5} {'import s':>9}"
    )
    for r in results:
        worker = f"{r['rss_worker_mb']:.0f} / {r['peak_worker_mb']:.0f}"
        horse = f"{r['rss_horse_mb']:.0f} / {r['peak_horse_mb']:.0f}"
        print(
            f"{r['n']:>7} {r['worker_rate']:>16.0f} {r['loop_rate']:>19.0f} {r['ratio']:>6.2f} "
            f"{worker:>18} {horse:>22} {r['horses']:>5} {r['import_s']:>9.1f}"
        )
        print(
            f"        deliveries: {r['deliveries']}; work-horse RSS at the end of its job "
            f"(largest): {r['final_horse_mb']:.0f} MB; largest child (getrusage): "
            f"{r['children_maxrss_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
