"""The newsletter's subscriber side through HTTP, the worker and a real SMTP server: double
opt-in, the consent record, no enumeration, one-click unsubscribe, token purposes, import."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

from sqlalchemy import func, select, update

from forum.db import utcnow
from forum.extensions import db
from forum.newsletter.consent import CONSENT_VERSION
from forum.newsletter.models import ConsentRecord, Subscriber
from forum.newsletter.services import request_subscription
from forum.privacy import PRIVACY_VERSION
from tests.helpers.mail import html_of, link, text_of
from tests.helpers.newsletter import subscribe, subscribe_and_confirm, subscriber


def test_double_opt_in_through_http_and_mail(client, smtp, work):
    page = client.get("/newsletter?email=ex%40beispiel.de")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("email", "name", "privacy_consent"):  # csrf_token: see the CSRF test
        assert f'name="{name}"' in html
    assert 'value="ex@beispiel.de"' in html  # prefilled from the ineligible page's link

    response = subscribe(client)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/newsletter/check-inbox")
    assert smtp.messages == []  # decided and sent by the worker, after the commit

    work()
    assert subscriber("buergermeisterin@gemeinde.de").status == "pending"
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert "bestätigen" in mail["Subject"]
    assert "List-Unsubscribe" not in mail  # not a newsletter: no advertising, no list headers
    confirm_path = link(mail, "/newsletter/confirm/")
    assert confirm_path in html_of(mail).replace("&amp;", "&")

    # A mail scanner's GET changes nothing.
    page = client.get(confirm_path)
    assert page.status_code == 200
    assert "<form" in page.get_data(as_text=True) and 'method="post"' in page.get_data(as_text=True)
    assert subscriber("buergermeisterin@gemeinde.de").status == "pending"

    done = client.post(confirm_path)
    assert done.status_code == 200
    assert 'data-newsletter="confirmed"' in done.get_data(as_text=True)
    sub = subscriber("buergermeisterin@gemeinde.de")
    assert sub.status == "confirmed" and sub.confirmed_at is not None

    again = client.post(confirm_path)
    assert 'data-newsletter="already"' in again.get_data(as_text=True)


def test_consent_record_holds_what_proves_the_consent(client, smtp, work, login):
    mail = subscribe_and_confirm(client, smtp, work)
    record = db.session.scalar(select(ConsentRecord))
    assert record.source == "newsletter_form"
    assert record.round_id is None
    assert record.requested_at is not None and record.confirmed_at >= record.requested_at
    assert record.wording_version == CONSENT_VERSION
    assert "Newsletter" in record.wording_text and "widerrufen" in record.wording_text
    assert record.privacy_version == PRIVACY_VERSION
    # The confirmation mail as it was sent, with the link that was used.
    assert record.mail_subject == mail["Subject"]
    assert link(mail, "/newsletter/confirm/") in record.mail_text

    login()
    page = client.get("/admin/newsletter/consent?email=Buergermeisterin@gemeinde.de")
    assert page.status_code == 200
    assert 'data-subscriber-status="confirmed"' in page.get_data(as_text=True)
    exported = client.get("/admin/newsletter/consent.json?email=buergermeisterin@gemeinde.de")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["Content-Disposition"]
    data = json.loads(exported.get_data(as_text=True))
    assert data["status"] == "confirmed"
    [entry] = data["consent_records"]
    assert entry["source"] == "newsletter_form"
    assert entry["consent_wording_version"] == CONSENT_VERSION
    assert entry["requested_at"] and entry["confirmed_at"]
    assert entry["confirmation_mail"]["sent_at"]
    assert "/newsletter/confirm/" in entry["confirmation_mail"]["text"]
    assert data["ip_addresses"] == "not stored"
    as_csv = client.get("/admin/newsletter/consent.csv?email=buergermeisterin@gemeinde.de")
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert rows[0]["source"] == "newsletter_form" and rows[0]["confirmed_at"]
    assert client.get("/admin/newsletter/consent.json?email=nobody@x.de").status_code == 404
    nothing = client.get("/admin/newsletter/consent?email=nobody@x.de")
    assert 'data-subscriber-status="none"' in nothing.get_data(as_text=True)


def test_consent_lookup_needs_a_login(client):
    response = client.get("/admin/newsletter/consent.json?email=a@b.de")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_application_form_source_records_the_round(app, make_round, smtp, work):
    rnd = make_round(title="Staffel 2027")
    request_subscription("Anna@Gemeinde.de", "Anna", "en", "application_form", round_id=rnd.id)
    db.session.commit()
    work()
    record = db.session.scalar(select(ConsentRecord))
    assert record.source == "application_form" and record.round_id == rnd.id
    assert "Staffel 2027" in record.round_label and rnd.slug in record.round_label
    assert record.locale == "en" and "newsletter" in record.wording_text
    [mail] = smtp.messages
    assert mail["Subject"] == "Please confirm your newsletter subscription"
    assert "Staffel 2027" in text_of(mail)


def test_subscribing_again_shows_the_same_page_and_resends_at_most_hourly(client, smtp, work):
    first = subscribe(client, email="neu@gemeinde.de")
    subscribe_and_confirm(client, smtp, work, email="bekannt@gemeinde.de")
    smtp.sink.clear()
    work()

    confirmed = subscribe(client, email="bekannt@gemeinde.de")
    pending = subscribe(client, email="neu@gemeinde.de")
    for response in (confirmed, pending):
        assert response.status_code == first.status_code
        assert response.headers["Location"] == first.headers["Location"]
    work()
    assert smtp.messages == []  # confirmed: nothing; pending: last mail under an hour ago

    db.session.execute(
        update(Subscriber)
        .where(Subscriber.email_normalized == "neu@gemeinde.de")
        .values(confirmation_sent_at=utcnow() - timedelta(hours=2))
    )
    db.session.commit()
    subscribe(client, email="neu@gemeinde.de")
    work()
    assert [m["To"] for m in smtp.messages] == ["neu@gemeinde.de"]
    assert db.session.scalar(select(func.count(ConsentRecord.id))) == 3


def test_invalid_form_input_is_refused_without_500(client, smtp, work):
    for data in (
        {"email": "kein-at", "privacy_consent": "y"},
        {"email": "a@b.de"},  # no consent
        {"email": "a@b.de", "name": "x\r\nBcc: evil@x.de", "privacy_consent": "y"},
        {"email": "a" * 300 + "@b.de", "privacy_consent": "y"},
        {"email": "jürgen@b.de", "privacy_consent": "y"},  # needs SMTPUTF8: not offered
    ):
        response = client.post("/newsletter", data=data)
        assert response.status_code == 422
    assert 'id="privacy_consent-error"' in client.post(
        "/newsletter", data={"email": "a@b.de"}
    ).get_data(as_text=True)
    work()
    assert smtp.messages == []
    assert db.session.scalar(select(func.count(Subscriber.id))) == 0
    assert client.get("/newsletter?email=%0d%0a").status_code == 200
    # An international domain is fine, stored in the ASCII form the mails carry.
    assert subscribe(client, email="info@bürgermeister.de").status_code == 302
    work()
    assert subscriber("info@xn--brgermeister-dlb.de").status == "pending"


def _unsubscribe_path(client, smtp, work, email="leserin@gemeinde.de") -> str:
    from forum.newsletter.tokens import unsubscribe_url

    subscribe_and_confirm(client, smtp, work, email=email)
    url = unsubscribe_url(subscriber(email).public_id)
    return url.removeprefix("https://forum.example.org")


def test_one_click_unsubscribe_without_cookies_or_csrf(make_app, client, smtp, work):
    path = _unsubscribe_path(client, smtp, work)
    strict = make_app(WTF_CSRF_ENABLED=True)
    with strict.app_context():
        fresh = strict.test_client(use_cookies=False)
        # GET never unsubscribes (scanners prefetch links).
        page = fresh.get(path)
        assert page.status_code == 200
        assert subscriber("leserin@gemeinde.de").status == "confirmed"
        response = fresh.post(
            path,
            data=b"List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 200  # no redirect (RFC 8058)
        assert "Set-Cookie" not in response.headers or "session" not in response.headers.get(
            "Set-Cookie", ""
        )
    sub = subscriber("leserin@gemeinde.de")
    assert sub.status == "unsubscribed" and sub.unsubscribed_via == "one-click"
    record = db.session.scalar(select(ConsentRecord))
    assert record.withdrawn_at is not None
    # Idempotent.
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def test_unsubscribe_page_button_works_with_csrf_enabled(make_app, client, smtp, work):
    path = _unsubscribe_path(client, smtp, work)
    strict = make_app(WTF_CSRF_ENABLED=True)
    with strict.app_context():
        browser = strict.test_client()
        page = browser.get(path).get_data(as_text=True)
        action = re.search(r'<form method="post" action="([^"]+)"', page).group(1)
        assert action == path
        done = browser.post(action)
        assert done.status_code == 200
        assert 'data-newsletter="unsubscribed"' in done.get_data(as_text=True)
    assert subscriber("leserin@gemeinde.de").unsubscribed_via == "page"


def test_subscribe_form_needs_its_csrf_token(make_app, smtp):
    strict = make_app(WTF_CSRF_ENABLED=True)
    with strict.app_context():
        c = strict.test_client()
        response = c.post("/newsletter", data={"email": "a@b.de", "privacy_consent": "y"})
        assert response.status_code == 400
        page = c.get("/newsletter").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        ok = c.post(
            "/newsletter",
            data={"email": "a@b.de", "privacy_consent": "y", "csrf_token": token},
            headers={"Referer": "https://localhost/newsletter"},  # the client speaks https
        )
        assert ok.status_code == 302


def test_token_purposes_do_not_mix(client, smtp, work):
    path = _unsubscribe_path(client, smtp, work)
    unsubscribe_token = path.rsplit("/", 1)[1]
    confirm_token = link(smtp.to("leserin@gemeinde.de")[0], "/newsletter/confirm/").rsplit("/")[-1]

    # An unsubscribe token cannot confirm, a confirmation token cannot unsubscribe.
    assert client.post(f"/newsletter/confirm/{unsubscribe_token}").status_code == 400
    response = client.post(
        f"/newsletter/unsubscribe/{confirm_token}", data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 400
    assert subscriber("leserin@gemeinde.de").status == "confirmed"
    for bad in ("x", "a.b.c", "A" * 500):  # not a token of ours: the invalid-link page
        assert client.get(f"/newsletter/unsubscribe/{bad}").status_code == 400
        assert client.post(f"/newsletter/confirm/{bad}").status_code == 400
    # A control character in a path segment matches no route (app.py, PathSegmentConverter).
    assert client.get("/newsletter/unsubscribe/%00").status_code == 404
    assert client.post("/newsletter/confirm/%00").status_code == 404
    # An old confirmation link does not subscribe again after unsubscribing.
    client.post(path)
    assert subscriber("leserin@gemeinde.de").status == "unsubscribed"
    again = client.post(f"/newsletter/confirm/{confirm_token}")
    assert again.status_code == 200
    assert subscriber("leserin@gemeinde.de").status == "unsubscribed"


def test_confirmation_link_expires(app, client, smtp, work, monkeypatch):
    import time

    import itsdangerous.timed

    subscribe(client)
    work()
    path = link(smtp.messages[0], "/newsletter/confirm/")
    days = app.config["NEWSLETTER_CONFIRM_DAYS"]

    class Later:  # the clock the token is checked with: just past the link's lifetime
        @staticmethod
        def time() -> float:
            return time.time() + days * 86400 + 60

    monkeypatch.setattr(itsdangerous.timed, "time", Later)
    page = client.post(path)
    assert page.status_code == 200 and "abgelaufen" in page.get_data(as_text=True)
    assert subscriber("buergermeisterin@gemeinde.de").status == "pending"


def test_confirmation_mail_lines_are_short(client, smtp, work):
    subscribe(client, name="Ä" * 200)
    work()
    raw = smtp.sink.envelopes[0].original_content
    assert max(len(line) for line in raw.split(b"\r\n")) < 998


def test_unconfirmed_requests_are_pruned(app, client, smtp, work):
    from forum.newsletter.services import prune_unconfirmed

    subscribe(client, email="alt@gemeinde.de")
    subscribe_and_confirm(client, smtp, work, email="treu@gemeinde.de")
    db.session.execute(
        update(Subscriber).values(confirmation_sent_at=utcnow() - timedelta(days=40))
    )
    db.session.commit()
    assert prune_unconfirmed() == 1
    assert subscriber("alt@gemeinde.de") is None
    assert subscriber("treu@gemeinde.de") is not None
    assert db.session.scalar(select(func.count(ConsentRecord.id))) == 1


# --- import ------------------------------------------------------------------------------------


def test_import_reports_bad_rows_imports_the_rest_and_is_idempotent(runner, tmp_path, client, work):
    client.post("/newsletter", data={"email": "weg@gemeinde.de", "privacy_consent": "y"})
    work()
    db.session.execute(update(Subscriber).values(status="unsubscribed"))
    db.session.commit()
    path = tmp_path / "liste.csv"
    path.write_text(
        "email,name,consented_at\n"
        "eins@gemeinde.de,Erika Eins,2024-05-01\n"  # line 2
        "kein-at,Zwei,2024-05-01\n"  # 3: bad address
        "drei@gemeinde.de,Drei,gestern\n"  # 4: bad date
        "vier@gemeinde.de,Vier,2999-01-01T10:00:00+01:00\n"  # 5: future
        "EINS@gemeinde.de,Nochmal,2024-05-02\n"  # 6: duplicate of line 2
        "fuenf@gemeinde.de,Fünf\n"  # 7: a field missing
        'sechs@gemeinde.de,"Sechs, mit Komma",2023-12-24T18:00:00\n'  # 8: fine
        "weg@gemeinde.de,Weg,2020-01-01\n"  # 9: present (unsubscribed), left alone
        "\n"
        "sieben@gemeinde.de,,2022-02-02T08:00:00Z\n",  # 11: fine
        encoding="utf-8",
    )
    result = runner.invoke(args=["newsletter", "import", str(path)])
    assert result.exit_code == 1
    output = result.output
    assert "imported: 3, already present: 1, failed: 5" in output
    for line, reason in (
        (3, "invalid e-mail address"),
        (4, "not a date"),
        (5, "future"),
        (6, "appears again (first in line 2)"),
        (7, "wrong number of fields"),
    ):
        assert re.search(rf"liste\.csv:{line}: .*{re.escape(reason)}", output), (line, output)
    assert subscriber("eins@gemeinde.de").status == "confirmed"
    assert subscriber("sechs@gemeinde.de").name == "Sechs, mit Komma"
    assert subscriber("weg@gemeinde.de").status == "unsubscribed"
    record = db.session.scalar(
        select(ConsentRecord)
        .join(Subscriber)
        .where(Subscriber.email_normalized == "eins@gemeinde.de")
    )
    assert record.source == "import" and record.confirmed_at.year == 2024
    assert "liste.csv, line 2" in record.note

    again = runner.invoke(args=["newsletter", "import", str(path)])
    assert "imported: 0, already present: 4, failed: 5" in again.output
    assert db.session.scalar(select(func.count(Subscriber.id))) == 4


def test_import_refuses_a_file_it_cannot_read(runner, tmp_path):
    wrong = tmp_path / "falsch.csv"
    wrong.write_text("mail,name\na@b.de,x\n", encoding="utf-8")
    result = runner.invoke(args=["newsletter", "import", str(wrong)])
    assert result.exit_code == 1 and "lacks the column(s) email, consented_at" in result.output
    latin = tmp_path / "latin.csv"
    latin.write_bytes("email,name,consented_at\nä@b.de,Jürgen,2024-01-01\n".encode("latin-1"))
    result = runner.invoke(args=["newsletter", "import", str(latin)])
    assert result.exit_code == 1 and "not UTF-8" in result.output
    result = runner.invoke(args=["newsletter", "import", str(tmp_path / "fehlt.csv")])
    assert result.exit_code == 1 and "cannot read" in result.output
    semi = tmp_path / "excel.csv"
    semi.write_text("\ufeffemail;name;consented_at\nx@b.de;X;01.02.2024\ny@b.de;Y;2024-02-01\n")
    result = runner.invoke(args=["newsletter", "import", str(semi)])
    assert "imported: 1" in result.output and "excel.csv:2:" in result.output
