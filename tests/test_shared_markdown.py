"""Issue 7: one Markdown renderer with one sanitiser (forum.formatting.render_markdown) for
pages, transactional mails and newsletters."""

from __future__ import annotations

import pytest

from forum.extensions import db
from forum.formatting import render_markdown
from forum.newsletter.render import body_to_html

ATTACK = (
    "Ein **Forum** für [uns](https://forum.example.org/x) und https://forum.example.org/y\n\n"
    "![Pixel](https://tracker.example.com/p.gif)\n\n"
    "[böse](javascript:alert(1)) [auch](&#106;avascript:alert(1)) "
    "[daten](data:text/html;base64,PHNjcmlwdD4=)\n\n"
    '<img src="https://tracker.example.com/s.gif"> <script>x</script>'
)


def _safe(html: str) -> None:
    assert "<img" not in html and ' src="' not in html and "/p.gif" not in html
    assert "javascript" not in html.lower() and "data:" not in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<strong>Forum</strong>" in html
    assert "Pixel" in html and "böse" in html  # alt text and link text stay


def test_page_and_newsletter_share_the_sanitiser(app):
    with app.test_request_context():
        page, mail = str(render_markdown(ATTACK)), str(body_to_html(ATTACK))
    for html in (page, mail):
        _safe(html)
    assert '<a href="https://forum.example.org/x" rel="noopener noreferrer">uns</a>' in page
    assert "und https://forum.example.org/y" in page  # pages do not linkify
    assert '<a href="https://forum.example.org/x">uns</a>' in mail
    assert '<a href="https://forum.example.org/y">https://forum.example.org/y</a>' in mail


def test_forum_page_renders_the_description_through_it(client, make_round):
    rnd = make_round()
    rnd.forum.description = ATTACK
    db.session.commit()
    page = client.get(f"/forums/{rnd.forum.slug}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    body = html[html.index('<div class="prose">') :]
    _safe(body)
    assert 'href="https://forum.example.org/x" rel="noopener noreferrer"' in body


@pytest.mark.parametrize(
    "text", ["", "Bürgermeister*innen", "- 1. Arbeitstreffen\n- 2. Arbeitstreffen"]
)
def test_the_rules_for_organizer_text_hold_everywhere(app, text):
    with app.test_request_context():
        assert str(render_markdown(text)).replace(' rel="noopener noreferrer"', "") == str(
            body_to_html(text)
        )
