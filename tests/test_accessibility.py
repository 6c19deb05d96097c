"""Every public and organizer page in a real browser (Debian's chromium through Playwright)
against the service under gunicorn, in German and English, at phone (390x844), desktop
(1280x800) and the narrowest phone size (320x640): no page is wider than the window, and at
phone and desktop size axe-core (from npm, ``package.json``; the test command installs it)
finds no violation of any impact (at 320 px it would check the same markup again, at a
minute of the test run). Screenshots of every page go to ``screenshots/`` (ignored by git), named
``<lang>-<size>-<page>.png``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from forum.extensions import db
from forum.newsletter import announcements as ann
from forum.newsletter import services as newsletter_services
from forum.newsletter import tokens as newsletter_tokens
from forum.newsletter.models import ConsentRecord, Subscriber
from registration import admission
from registration.models import Application
from registration.tokens import Purpose, make_token
from tests.helpers import ROOT, application_data
from tests.helpers.browser import DESKTOP, PASSWORD, SIZES, axe_violations, log_in, new_page

pytestmark = pytest.mark.browser

SHOTS = ROOT / "screenshots"


@pytest.fixture
def pages(app, client, make_round, make_application, make_organizer, write):
    """One of everything, and the paths of the pages that show it."""
    rnd = make_round(title="Staffel 2027", seats=3, max_per_state=2)
    admin = make_organizer(email="admin@forum.example.org", password=PASSWORD, admin=True)
    offered = make_application(rnd, first_name="Jürgen", last_name="Öztürk")
    accepted = make_application(rnd, first_name="Ute", last_name="Schäfer-Lindemann")
    submitted = make_application(rnd, first_name="Bernd", last_name="Weber")
    write(admission.decide, offered, "admit", admin)
    write(admission.decide, accepted, "admit", admin)
    write(admission.accept_offer, db.session.get(Application, accepted.id))
    response = client.post(
        f"/rounds/{rnd.slug}/apply", data=application_data(email="neu@gemeinde-beispiel.de")
    )
    assert response.status_code == 302
    pending = db.session.scalar(
        select(Application).where(Application.email == "neu@gemeinde-beispiel.de")
    )
    write(
        newsletter_services.request_subscription,
        "leserin@kommune.de",
        "Lea",
        "de",
        "newsletter_form",
    )
    subscriber = db.session.scalar(select(Subscriber))
    consent = db.session.scalar(select(ConsentRecord))
    announcement = write(ann.create_announcement, rnd, *ann.prefill(rnd), admin)
    status = make_token(Purpose.STATUS, submitted.public_id)
    meeting_key = db.session.get(type(rnd), rnd.id).meetings[0].key
    return {
        "home": "/",
        "forum": f"/forums/{rnd.forum.slug}",
        "apply": f"/rounds/{rnd.slug}/apply",
        "check-inbox": f"/rounds/{rnd.slug}/check-inbox",
        "confirm": f"/applications/confirm/{make_token(Purpose.CONFIRM, pending.public_id)}",
        "status-submitted": f"/status/{status}",
        "status-offered": f"/status/{make_token(Purpose.STATUS, offered.public_id)}",
        "status-accepted": f"/status/{make_token(Purpose.STATUS, accepted.public_id)}",
        "offer": f"/offers/{make_token(Purpose.OFFER, offered.public_id)}",
        "bad-link": "/status/kaputt",
        "newsletter": "/newsletter",
        "newsletter-check-inbox": "/newsletter/check-inbox",
        "newsletter-confirm": "/newsletter/confirm/"
        + newsletter_tokens.make_token(newsletter_tokens.Purpose.CONFIRM, consent.public_id),
        "newsletter-unsubscribe": "/newsletter/unsubscribe/"
        + newsletter_tokens.make_token(newsletter_tokens.Purpose.UNSUBSCRIBE, subscriber.public_id),
        "privacy": "/datenschutz",
        "legal-notice": "/impressum",
        "accessibility-statement": "/barrierefreiheit",
        "not-found": "/gibt-es-nicht",
        "status-edit": f"/status/{status}/edit",
        "embed": f"/embed/forums/{rnd.forum.slug}",
        # organizer pages (logged in below)
        "admin-home": "/admin/",
        "admin-round": f"/admin/rounds/{rnd.slug}",
        "admin-application": f"/admin/applications/{offered.id}",
        "admin-newsletter": "/admin/newsletter/",
        "admin-announce": f"/admin/newsletter/rounds/{rnd.slug}/announce",
        "admin-announcement": f"/admin/newsletter/announcements/{announcement.id}",
        "admin-consent": "/admin/newsletter/consent?email=leserin@kommune.de",
        "admin-privacy": "/admin/privacy?email=neu@gemeinde-beispiel.de",
        "admin-organizers": "/admin/organizers/",
        "admin-organizer-new": "/admin/organizers/new",
        "admin-organizer": f"/admin/organizers/{admin.id}",
        # running a round, selection, formats, mail, audit
        "admin-round-edit": f"/admin/rounds/{rnd.slug}/edit",
        "admin-round-new": f"/admin/forums/{rnd.forum.slug}/rounds/new",
        "admin-forum-edit": f"/admin/forums/{rnd.forum.slug}/edit",
        "admin-messages": f"/admin/rounds/{rnd.slug}/messages",
        "admin-meeting": f"/admin/rounds/{rnd.slug}/meetings/{meeting_key}",
        "admin-attendance": f"/admin/rounds/{rnd.slug}/meetings/{meeting_key}/attendance",
        "admin-review-queue": f"/admin/rounds/{rnd.slug}/review",
        "admin-review": f"/admin/applications/{submitted.id}/review",
        "admin-selection": f"/admin/rounds/{rnd.slug}/selection",
        "admin-invitations": f"/admin/rounds/{rnd.slug}/invitations",
        "admin-groups": f"/admin/rounds/{rnd.slug}/groups",
        "admin-bounces": "/admin/mail/bounces",
        "admin-audit": "/admin/audit",
    }


WIDE_ELEMENTS = """() => [...document.querySelectorAll('body *')]
  .filter(e => !(e.parentElement && e.parentElement.closest('.table-scroll')))
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5
    && ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 0.5))
  .slice(0, 4)
  .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
    + ' ' + (e.textContent || '').trim().slice(0, 30))"""


def _check(page, name: str, lang: str, size: str) -> list[str]:
    problems = []
    for v in axe_violations(page) if size != "narrow" else ():
        problems.append(f"{lang}/{size}/{name}: axe {v['impact']} {v['id']} {v['nodes']}")
    widths = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    if widths[0] > widths[1]:
        # the innermost elements that stick out, to say where to look
        culprits = page.evaluate(WIDE_ELEMENTS)
        problems.append(f"{lang}/{size}/{name}: {widths[0]} px wide at {widths[1]} px {culprits}")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{lang}-{size}-{name}.png"), full_page=True)
    return problems


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["de", "en"])
def test_every_page_passes_axe_and_fits(browser, axe, live_server, pages, lang, size):
    # axe is injected as a script, which the service's Content-Security-Policy forbids.
    page = new_page(browser, SIZES[size], bypass_csp=True)
    page.goto(f"{live_server.url}/?lang={lang}")  # the choice is kept for the session
    problems = []
    for name, path in pages.items():
        if name == "admin-home":
            page.goto(live_server.url + "/admin/login")
            problems += _check(page, "admin-login", lang, size)
            log_in(page, live_server.url, "admin@forum.example.org")
        page.goto(live_server.url + path)
        assert page.locator("html").get_attribute("lang") == lang, name
        problems += _check(page, name, lang, size)
        if name == "apply":
            # the form with its error summary
            page.locator("#apply-form button[type=submit]").click()
            page.wait_for_selector(".error-summary")
            problems += _check(page, "apply-errors", lang, size)
            # an ineligible answer: the failure, the newsletter and the filled-in form
            page.goto(
                f"{live_server.url}{path}?state=DE-NW&role=mayor&body_type=city"
                "&first_name=Jürgen&last_name=Öztürk&email=j@stadt.example&organisation=Stadt"
            )
            page.locator("#motivation").fill("Austausch mit Kolleg*innen")
            page.locator("#challenge").fill("Sanierung der Grundschule")
            page.locator("#commitment").check()
            page.locator("#privacy_consent").check()
            page.locator("#apply-form button[type=submit]").click()
            page.wait_for_selector("[data-rule=state]")
            problems += _check(page, "apply-ineligible", lang, size)
    page.context.close()
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)


def test_screenshots_folder_is_ignored_by_git():
    ignored = Path(ROOT / ".gitignore").read_text().splitlines()
    assert "/screenshots/" in ignored and "/node_modules/" in ignored


CONTRAST = """([a, b]) => {
  const lum = c => { const v = c.match(/[\\d.]+/g).slice(0, 3).map(x => x / 255)
    .map(x => x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const [l1, l2] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (l1 + 0.05) / (l2 + 0.05); }"""


def test_focus_ring_has_three_to_one_contrast(browser, live_server, app, make_round):
    """WCAG 1.4.11: the focus outline against what surrounds it, on the page and in the
    green header, reached with the keyboard."""
    make_round(title="Staffel 2027")
    page = new_page(browser, DESKTOP)
    page.goto(live_server.url + "/")
    seen = {}
    for _ in range(12):
        page.keyboard.press("Tab")
        info = page.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
            let p = e.parentElement, bg = 'rgba(0, 0, 0, 0)';
            while (p && (bg = getComputedStyle(p).backgroundColor) === 'rgba(0, 0, 0, 0)')
              p = p.parentElement;
            return {where: e.closest('header') ? 'header' : 'page', outline: s.outlineColor,
              width: parseFloat(s.outlineWidth), style: s.outlineStyle,
              bg: p ? bg : 'rgb(255, 255, 255)'}; }"""
        )
        seen.setdefault(info["where"], info)
    page.context.close()
    assert set(seen) == {"header", "page"}
    for info in seen.values():
        assert info["style"] == "solid" and info["width"] >= 2, info
        ratio = page_contrast(browser, info["outline"], info["bg"])
        assert ratio >= 3, (info, ratio)


def page_contrast(browser, a: str, b: str) -> float:
    context = browser.new_context()
    try:
        return context.new_page().evaluate(CONTRAST, [a, b])
    finally:
        context.close()
