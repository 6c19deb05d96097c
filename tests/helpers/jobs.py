"""Running RQ jobs in the test process, and the environment for the real worker commands."""

from __future__ import annotations

import os

from rq import SimpleWorker

from forum.extensions import db, rq


def run_jobs(app, queues=("default", "mail", "bulk"), max_rounds: int = 20) -> int:
    """Run every queued job in this process (RQ's SimpleWorker in the app context, without
    RQ's scheduler: retries are the maintenance run's work)."""
    done = 0
    db.session.commit()  # end the test body's transaction (see IsolatedClient)
    with app.app_context():
        qs = [rq.get_queue(name) for name in queues]
        for _ in range(max_rounds):
            worker = SimpleWorker(qs, connection=qs[0].connection, job_class=qs[0].job_class)
            before = sum(len(q) for q in qs)
            worker.work(burst=True)
            done += before
            if sum(len(q) for q in qs) == 0:
                break
        db.session.remove()
    db.session.expire_all()
    return done


def run_one(app, queue: str = "bulk") -> None:
    """Run exactly one job of a queue (in this process, in the app context)."""
    db.session.commit()
    with app.app_context():
        q = rq.get_queue(queue)
        SimpleWorker([q], connection=q.connection).work(burst=True, max_jobs=1)
        db.session.remove()
    db.session.expire_all()


def flask_env(app, tmp_path) -> dict:
    """The environment for ``flask …`` subprocesses (worker, scheduler, CLI) on the test app's
    database, Redis and SMTP server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORUM_")}
    env.update(
        FLASK_APP="app",
        FORUM_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        FORUM_RQ_CONNECTION=app.config["RQ_CONNECTION"],
        FORUM_MAIL_PORT=str(app.config["MAIL_PORT"]),
        FORUM_SECRET_KEY=app.config["SECRET_KEY"],
        FORUM_PUBLIC_BASE_URL=app.config["PUBLIC_BASE_URL"],
        FORUM_INSTANCE_PATH=str(tmp_path / "worker-instance"),
    )
    return env
