"""Debian's chromium through Playwright: the sizes we test at, logging in, axe-core.

The ``browser`` fixture (``tests/fixtures/browser.py``) launches one chromium per test session
(per xdist worker); tests open a context per test with :func:`new_page`."""

from __future__ import annotations

import re

from . import ROOT

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
NARROW = {"width": 320, "height": 640}
SIZES = {"phone": PHONE, "desktop": DESKTOP, "narrow": NARROW}
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "richtig-langes-passwort"


def new_page(browser, viewport: dict | None = None, **options):
    """A page in a new context (its own cookies) at ``viewport`` (default: desktop); close it
    with ``page.context.close()``."""
    options.setdefault("locale", "de-DE")
    context = browser.new_context(viewport=viewport or DESKTOP, **options)
    return context.new_page()


def log_in(
    page,
    base_url: str,
    email: str = "orga@forum.example.org",
    password: str = PASSWORD,
    lang: str | None = None,
) -> None:
    """Log in through the real login form and wait until the organizer area has loaded."""
    page.goto(f"{base_url}/admin/login" + (f"?lang={lang}" if lang else ""))
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r"/admin/(\?.*)?$"))


def axe_violations(page) -> list[dict]:
    """Inject axe-core into the page (the context needs ``bypass_csp=True``) and return its
    violations of any impact: ``[{"id", "impact", "nodes"}]``."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
