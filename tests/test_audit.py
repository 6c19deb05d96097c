"""Issue 12: the audit log of organizer actions (who exported, who decided, who erased), shown
to admins only; written in the transaction of the action."""

from __future__ import annotations

from sqlalchemy import func, select

from forum.extensions import db
from forum.models import AuditEntry


def _entries() -> list[AuditEntry]:
    db.session.commit()
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_exports_and_decisions_are_logged_and_shown_to_admins(
    app, client, login, make_round, make_application
):
    rnd = make_round()
    application = make_application(rnd)
    other = make_application(rnd)
    login(email="orga@forum.example.org", admin=False, forums=[rnd.forum])

    assert client.get(f"/admin/rounds/{rnd.slug}/applications.csv").status_code == 200
    response = client.post(
        f"/admin/applications/{application.id}/decision", data={"action": "admit"}
    )
    assert response.status_code == 302
    # A refused decision changes nothing and logs nothing.
    refused = client.post(f"/admin/applications/{other.id}/decision", data={"action": "x"})
    assert refused.status_code == 422
    client.post(
        f"/admin/rounds/{rnd.slug}/decisions", data={"ids": [other.id], "action": "waitlist"}
    )

    entries = _entries()
    assert [(e.actor, e.action, e.target, e.detail) for e in entries] == [
        ("orga@forum.example.org", "export", f"round {rnd.slug}", "applications.csv"),
        ("orga@forum.example.org", "decision", f"application {application.id}", "admit"),
        ("orga@forum.example.org", "decision", f"round {rnd.slug}", f"waitlist: {other.id}"),
    ]
    assert client.get("/admin/audit").status_code == 403  # organizers do not see the log

    admin = client.application.test_client()
    login(email="admin@forum.example.org", admin=True, as_client=admin)
    page = admin.get("/admin/audit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert text.count('data-action="decision"') == 2
    assert 'data-action="export"' in text and "orga@forum.example.org" in text
    assert "Protokoll der Verwaltung" in admin.get("/admin/").get_data(as_text=True)


def test_privacy_erasure_and_exports_are_logged_without_the_address(
    app, client, login, make_round, make_application
):
    rnd = make_round()
    make_application(rnd, email="weg@gemeinde.de")
    login(admin=True)
    assert client.get("/admin/privacy/export.json?email=weg@gemeinde.de").status_code == 200
    response = client.post(
        "/admin/privacy/erase",
        data={"email": "weg@gemeinde.de", "reason": "Anfrage per Brief", "confirm": "y"},
    )
    assert response.status_code == 302
    entries = _entries()
    assert [e.action for e in entries] == ["privacy_export", "privacy_erase"]
    assert entries[0].target == entries[1].target  # the same keyed hash
    assert all("weg@gemeinde.de" not in f"{e.target} {e.detail}" for e in entries)
    assert "applications: 1" in entries[1].detail
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 2
