"""The progress bar of a dispatch in a real browser (Debian's chromium through Playwright)
against the service under gunicorn: the self-hosted script polls the JSON endpoint and shows
the numbers while the worker sends, under the strict Content-Security-Policy."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from forum.db import utcnow
from forum.extensions import db, rq
from forum.newsletter import announcements as ann
from forum.newsletter.models import Subscriber
from tests.helpers.browser import log_in

pytestmark = pytest.mark.browser


def test_progress_bar_updates_while_the_dispatch_runs(
    browser, live_server, app, make_round, make_organizer, smtp, work
):
    from playwright.sync_api import expect
    from rq import SimpleWorker

    rnd = make_round(title="Staffel 2027")
    db.session.execute(
        insert(Subscriber),
        [
            {
                "email": f"leser{i}@kommune.de",
                "email_normalized": f"leser{i}@kommune.de",
                "status": "confirmed",
                "created_at": utcnow(),
            }
            for i in range(12)
        ],
    )
    announcement = ann.create_announcement(rnd, "Neue Runde", "Liebe Leser*innen", None)
    db.session.flush()
    ann.request_dispatch(announcement)
    db.session.commit()
    make_organizer(forums=[rnd.forum])
    # Only the dispatch job: the deliveries exist, the batch waits in the queue.
    queue = rq.get_queue("bulk")
    queue.enqueue(
        "forum.newsletter.jobs.dispatch_announcement", announcement.id, job_id="dispatch-only"
    )
    db.session.commit()
    with app.app_context():
        SimpleWorker([queue], connection=queue.connection).work(burst=True, max_jobs=1)
        db.session.remove()

    context = browser.new_context(locale="de-DE")
    page = context.new_page()
    problems = []  # script errors, CSP violations, failed requests (but the favicon)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/newsletter/announcements/{announcement.id}")
    expect(page.locator('[data-field="total"]')).to_have_text("12")
    expect(page.locator('[data-field="sent"]')).to_have_text("0")
    # The HTML preview: the mail as sent, in a sandboxed frame with its own inline styles.
    preview = page.frame_locator("iframe.mail-html")
    expect(preview.locator("body")).to_contain_text("Newsletter abbestellen")

    work()  # the worker sends while the page is open
    assert len(smtp.messages) == 12
    expect(page.locator('[data-field="sent"]')).to_have_text("12", timeout=15_000)
    expect(page.locator("progress")).to_have_attribute("value", "12")
    problems = [p for p in problems if "favicon" not in p and "Failed to load resource" not in p]
    assert problems == []
    context.close()
