"""Small things a new user trips over (issue 11), through HTTP, the CLI and the worker: one date
format, plural forms, the announcement page's stylesheet, bullets that start with a number,
the CSV's Content-Type."""

from __future__ import annotations

import re

from tests.helpers.newsletter import add_subscribers, announce

ONE_FORMAT_DE = re.compile(r"\b\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}\b")
SECONDS = re.compile(r"\b\d{1,2}:\d{2}:\d{2}\b")
SHORT_YEAR = re.compile(r"\b\d{2}\.\d{2}\.\d{2}\b(?!\d)")


def test_one_date_format_on_pages_and_in_the_csv(client, login, make_round, make_application):
    rnd = make_round(title="Staffel 2027")
    make_application(rnd)
    pages = [client.get(f"/rounds/{rnd.slug}/apply"), client.get("/")]
    login(forums=[rnd.forum])
    pages.append(client.get(f"/admin/rounds/{rnd.slug}"))
    for page in pages:
        html = page.get_data(as_text=True)
        assert ONE_FORMAT_DE.search(html), html[:3000]
        assert not SECONDS.search(html) and not SHORT_YEAR.search(html), (
            SECONDS.findall(html),
            SHORT_YEAR.findall(html),
        )
    english = client.get(f"/admin/rounds/{rnd.slug}?lang=en").get_data(as_text=True)
    assert re.search(r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}\s?[AP]M", english)

    export = client.get(f"/admin/rounds/{rnd.slug}/applications.csv")
    assert export.headers["Content-Type"] == "text/csv; charset=utf-8"
    header, row = export.get_data(as_text=True).lstrip("\ufeff").splitlines()[:2]
    created = row.split(",")[header.split(",").index("created_at")]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\+00:00)?", created), created


def test_result_count_uses_the_plural_only_for_several(client, login, make_round, make_application):
    rnd = make_round()
    make_application(rnd)
    login(forums=[rnd.forum])
    one = client.get(f"/admin/rounds/{rnd.slug}").get_data(as_text=True)
    assert re.search(r'id="result-count">1 Bewerbung gefunden<', one)
    assert "1 application found" in client.get(f"/admin/rounds/{rnd.slug}?lang=en").get_data(
        as_text=True
    )
    make_application(rnd)
    two = client.get(f"/admin/rounds/{rnd.slug}?lang=de").get_data(as_text=True)
    assert re.search(r'id="result-count">2 Bewerbungen gefunden<', two)


def test_announcement_page_has_the_admin_stylesheet(client, login, make_round, runner):
    rnd = make_round()
    add_subscribers(1)
    announcement_id = announce(runner, rnd)
    login(forums=[rnd.forum])
    html = client.get(f"/admin/newsletter/announcements/{announcement_id}").get_data(as_text=True)
    assert "/static/admin.css" in html and "/static/style.css" in html


def test_prefilled_meeting_line_is_one_bullet_in_the_mail(runner, make_round, smtp, work):
    rnd = make_round(title="Staffel 2027")  # its meeting is called "1. Arbeitstreffen"
    [address] = add_subscribers(1)
    announce(runner, rnd)
    work()
    [mail] = smtp.to(address)
    html = mail.get_body(preferencelist=("html",)).get_content()
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "<ol" not in html
    assert re.search(r"<li>1\. Arbeitstreffen: ", html), html
    assert "- 1. Arbeitstreffen: " in text  # the text part as the organizer wrote it
