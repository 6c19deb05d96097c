"""The organizers' page of bounces and complaints (``/admin/mail/bounces``): every event with
its reason, filterable by kind and address, the suppression list, and per announcement the
bounces and complaints beside sent and failed. Admins only: it lists addresses of all forums
(organizers see the state of their applicants' addresses on the dashboard and the
application page)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import case, func, select

from .auth import admin_required
from .extensions import db
from .form_limits import CONTROL
from .mail import normalize_email
from .models import MailEvent, MailEventKind, Suppression

bp = Blueprint("mail_admin", __name__, url_prefix="/admin/mail")

PAGE = 200


@bp.get("/bounces")
@admin_required
def bounces():
    from .newsletter.models import Announcement, Delivery, DeliveryStatus

    kind = request.args.get("kind", "")
    if kind not in {k.value for k in MailEventKind}:
        kind = ""
    query = normalize_email(request.args.get("q", "") or "")[:254]
    query = CONTROL.sub("", query)
    stmt = select(MailEvent).order_by(MailEvent.id.desc()).limit(PAGE)
    if kind:
        stmt = stmt.where(MailEvent.kind == kind)
    if query:
        stmt = stmt.where(MailEvent.email_normalized.contains(query, autoescape=True))
    events = db.session.scalars(stmt).all()
    suppressed = db.session.scalars(
        select(Suppression)
        .where(Suppression.lifted_at.is_(None))
        .order_by(Suppression.created_at.desc())
        .limit(PAGE)
    ).all()

    def count_kind(*kinds):
        return func.sum(case((MailEvent.kind.in_([k.value for k in kinds]), 1), else_=0))

    event_counts = {
        row.announcement_id: row
        for row in db.session.execute(
            select(
                MailEvent.announcement_id,
                count_kind(MailEventKind.HARD_BOUNCE, MailEventKind.SOFT_BOUNCE).label("bounces"),
                count_kind(MailEventKind.COMPLAINT).label("complaints"),
            )
            .where(MailEvent.announcement_id.is_not(None))
            .group_by(MailEvent.announcement_id)
        )
    }
    announcements = db.session.execute(
        select(
            Announcement.id,
            Announcement.subject,
            func.sum(case((Delivery.status == DeliveryStatus.SENT.value, 1), else_=0)).label(
                "sent"
            ),
            func.sum(case((Delivery.status == DeliveryStatus.FAILED.value, 1), else_=0)).label(
                "failed"
            ),
        )
        .join(Delivery, Delivery.announcement_id == Announcement.id)
        .group_by(Announcement.id, Announcement.subject)
        .order_by(Announcement.id.desc())
        .limit(50)
    ).all()
    return render_template(
        "admin/bounces.html",
        events=events,
        suppressed=suppressed,
        announcements=announcements,
        event_counts=event_counts,
        kinds=[k.value for k in MailEventKind],
        kind=kind,
        q=query,
    )
