"""Pages of the newsletter: the public subscription, confirmation and unsubscribe pages, and
the organizers' pages (announcements, progress, consent look-up)."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from forum import audit
from forum.auth import organizer_required, require_forum, round_or_404, visible_forums_query
from forum.csvdownload import csv_chunks, download_name, download_response
from forum.db import utcnow
from forum.extensions import csrf, db, limiter
from forum.models import Round
from forum.privacy import address_hash

from . import announcements as ann
from . import services
from .forms import (
    CONTROL,
    AnnouncementForm,
    ButtonForm,
    DispatchForm,
    LookupForm,
    SubscribeForm,
)
from .jobs import enqueue_batches, enqueue_dispatch
from .models import Announcement, AnnouncementStatus, Subscriber

bp = Blueprint("newsletter", __name__, url_prefix="/newsletter")
admin_bp = Blueprint("newsletter_admin", __name__, url_prefix="/admin/newsletter")


def _subscribe_limit() -> str:
    return current_app.config["NEWSLETTER_RATELIMIT"]


# --- public ------------------------------------------------------------------------------------


@bp.route("", methods=["GET", "POST"])
@limiter.limit(_subscribe_limit, methods=["POST"])
def subscribe():
    form = SubscribeForm()
    if request.method == "GET":
        email = request.args.get("email", "")
        if email and not CONTROL.search(email):
            form.email.data = email.strip()[:254]
    if not form.validate_on_submit():
        return render_template("newsletter/subscribe.html", form=form), (
            422 if request.method == "POST" else 200
        )
    services.ask_for_subscription(
        form.email.data,
        form.name.data or "",
        str(get_locale() or "de"),
        "newsletter_form",
    )
    db.session.commit()
    # The same page for a new, a pending and a confirmed address: nobody learns who reads.
    return redirect(url_for("newsletter.check_inbox"))


@bp.get("/check-inbox")
def check_inbox():
    return render_template("newsletter/check_inbox.html")


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    form = ButtonForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        result = services.confirm_subscription(token)
        db.session.commit()
    else:
        result = services.check_confirm_token(token)
    status = 400 if result.outcome == services.ConfirmOutcome.INVALID else 200
    return render_template("newsletter/confirm.html", result=result, form=form, token=token), status


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: the mail client POSTs without a session; the token is the secret
def unsubscribe(token: str):
    if request.method == "POST":
        one_click = request.form.get("List-Unsubscribe") == "One-Click"
        outcome, _subscriber = services.unsubscribe(token, "one-click" if one_click else "page")
        db.session.commit()
    else:
        # GET never unsubscribes: mail scanners open links.
        outcome, _subscriber = services.check_unsubscribe_token(token)
    status = 400 if outcome == services.UnsubscribeOutcome.INVALID else 200
    return render_template("newsletter/unsubscribe.html", outcome=outcome, token=token), status


# --- organizers --------------------------------------------------------------------------------


def _announcement_or_404(announcement_id: int) -> Announcement:
    announcement = db.session.get(Announcement, announcement_id)
    if announcement is None:
        abort(404)
    if announcement.round_id is None:
        if not current_user.is_admin:
            abort(404)
    else:
        rnd = db.session.get(Round, announcement.round_id)
        if rnd is None:
            abort(404)
        require_forum(rnd.forum_id)
    return announcement


def _visible_announcements():
    stmt = select(Announcement).order_by(Announcement.created_at.desc()).limit(100)
    if not current_user.is_admin:
        forum_ids = [f.id for f in current_user.forums]
        stmt = stmt.join(Round, Round.id == Announcement.round_id).where(
            Round.forum_id.in_(forum_ids)
        )
    return db.session.scalars(stmt).all()


@admin_bp.get("/")
@organizer_required
def overview():
    counts = dict(
        db.session.execute(
            select(Subscriber.status, func.count(Subscriber.id)).group_by(Subscriber.status)
        ).all()
    )
    forums = db.session.scalars(visible_forums_query()).all()
    announced = {
        round_id
        for (round_id,) in db.session.execute(
            select(Announcement.round_id).where(
                Announcement.status != AnnouncementStatus.DRAFT.value
            )
        )
    }
    return render_template(
        "newsletter/admin/overview.html",
        counts=counts,
        forums=forums,
        announced=announced,
        announcements=_visible_announcements(),
        lookup=LookupForm(formdata=None),
        now=utcnow(),
    )


@admin_bp.route("/rounds/<slug>/announce", methods=["GET", "POST"])
@organizer_required
def compose(slug: str):
    rnd = round_or_404(slug)
    form = AnnouncementForm()
    if request.method == "GET":
        form.subject.data, form.body.data = ann.prefill(rnd)
    if form.validate_on_submit():
        announcement = ann.create_announcement(
            rnd,
            form.subject.data,
            form.body.data,
            current_user,
            subject_en=form.subject_en.data or "",
            body_en=form.body_en.data or "",
        )
        db.session.commit()
        return redirect(url_for(".announcement", announcement_id=announcement.id))
    previous = db.session.scalars(
        select(Announcement).where(
            Announcement.round_id == rnd.id,
            Announcement.status != AnnouncementStatus.DRAFT.value,
        )
    ).all()
    return render_template(
        "newsletter/admin/compose.html", form=form, round=rnd, previous=previous
    ), (422 if request.method == "POST" else 200)


@admin_bp.route("/announcements/<int:announcement_id>/edit", methods=["GET", "POST"])
@organizer_required
def edit(announcement_id: int):
    announcement = _announcement_or_404(announcement_id)
    if not announcement.is_draft:
        flash(_("Eine versandte Ankündigung kann nicht mehr geändert werden."), "error")
        return redirect(url_for(".announcement", announcement_id=announcement.id))
    form = AnnouncementForm(obj=announcement)
    if form.validate_on_submit():
        try:
            ann.update_draft(
                announcement,
                form.subject.data,
                form.body.data,
                subject_en=form.subject_en.data or "",
                body_en=form.body_en.data or "",
            )
        except ann.AnnouncementError:
            db.session.rollback()
            flash(_("Eine versandte Ankündigung kann nicht mehr geändert werden."), "error")
        else:
            db.session.commit()
            flash(_("Entwurf gespeichert."), "info")
        return redirect(url_for(".announcement", announcement_id=announcement.id))
    rnd = db.session.get(Round, announcement.round_id) if announcement.round_id else None
    return render_template(
        "newsletter/admin/compose.html",
        form=form,
        round=rnd,
        announcement=announcement,
        previous=ann.previous_announcements(announcement),
    ), (422 if request.method == "POST" else 200)


@admin_bp.get("/announcements/<int:announcement_id>")
@organizer_required
def announcement(announcement_id: int):
    announcement = _announcement_or_404(announcement_id)
    preview = ann.render_preview(announcement)
    return render_template(
        "newsletter/admin/announcement.html",
        announcement=announcement,
        preview=preview,
        progress=ann.progress(announcement),
        problems=ann.problem_deliveries(announcement),
        previous=ann.previous_announcements(announcement),
        confirmed=ann.confirmed_count(),
        form=ButtonForm(),
        dispatch_form=DispatchForm(),
    )


@admin_bp.get("/announcements/<int:announcement_id>/preview.html")
@organizer_required
def preview_html(announcement_id: int):
    announcement = _announcement_or_404(announcement_id)
    locale = request.args.get("locale", "de")
    preview = ann.render_preview(announcement, locale if locale in ("de", "en") else "de")
    response = Response(preview.html, mimetype="text/html")
    # Shown in a sandboxed frame of the announcement page: the mail's inline styles apply,
    # nothing else loads.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@admin_bp.post("/announcements/<int:announcement_id>/test")
@organizer_required
def send_test(announcement_id: int):
    announcement = _announcement_or_404(announcement_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    ann.send_test(announcement, current_user.email)
    db.session.commit()
    flash(_("Eine Testmail an %(email)s ist unterwegs.", email=current_user.email), "info")
    return redirect(url_for(".announcement", announcement_id=announcement.id))


@admin_bp.post("/announcements/<int:announcement_id>/dispatch")
@organizer_required
def dispatch(announcement_id: int):
    announcement = _announcement_or_404(announcement_id)
    form = DispatchForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        ann.request_dispatch(announcement, again=bool(form.again.data))
    except ann.AlreadyAnnounced:
        db.session.rollback()
        flash(
            _(
                "Diese Runde wurde schon angekündigt. Bitte bestätigen Sie, dass Sie sie "
                "erneut ankündigen möchten."
            ),
            "warning",
        )
        return redirect(url_for(".announcement", announcement_id=announcement_id) + "#dispatch")
    except ann.AnnouncementError:
        db.session.rollback()
        flash(_("Diese Ankündigung wurde bereits versandt."), "error")
        return redirect(url_for(".announcement", announcement_id=announcement_id))
    db.session.commit()
    if not enqueue_dispatch(announcement_id):
        flash(_("Der Versand startet, sobald die Warteschlange wieder erreichbar ist."), "warning")
    else:
        flash(_("Der Versand hat begonnen."), "info")
    return redirect(url_for(".announcement", announcement_id=announcement_id))


@admin_bp.get("/announcements/<int:announcement_id>/progress.json")
@organizer_required
def progress_json(announcement_id: int):
    announcement = _announcement_or_404(announcement_id)
    response = Response(
        json.dumps(ann.progress(announcement).as_dict()), mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@admin_bp.post("/announcements/<int:announcement_id>/retry")
@organizer_required
def retry(announcement_id: int):
    announcement = _announcement_or_404(announcement_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    count = ann.retry_failed(announcement)
    db.session.commit()
    if count:
        try:
            enqueue_batches(announcement_id)
        except Exception:  # Redis down: the maintenance run enqueues them
            db.session.rollback()
            current_app.logger.warning("could not enqueue retry batches", exc_info=True)
    flash(_("%(count)d Zustellungen werden erneut versucht.", count=count), "info")
    return redirect(url_for(".announcement", announcement_id=announcement_id))


# --- consent look-up ---------------------------------------------------------------------------


def _forum_scope() -> set[int] | None:
    """None for an admin (every address); else the ids of the organizer's forums."""
    return None if current_user.is_admin else {f.id for f in current_user.forums}


@admin_bp.get("/consent")
@organizer_required
def consent():
    form = LookupForm(request.args)
    export = None
    if request.args.get("email") is not None and form.validate():
        export = services.consent_export(form.email.data, _forum_scope())
    return render_template(
        "newsletter/admin/consent.html", form=form, export=export, searched="email" in request.args
    )


@admin_bp.get("/consent.<fmt>")
@organizer_required
def consent_download(fmt: str):
    if fmt not in ("json", "csv"):
        abort(404)
    email = request.args.get("email", "")[:254]
    export = None if CONTROL.search(email) else services.consent_export(email, _forum_scope())
    if export is None:
        abort(404)
    audit.record_read("consent_export", "address " + address_hash(export["email"]), fmt)
    name = download_name("einwilligung-" + export["email"], fmt)
    if fmt == "json":
        return download_response(
            json.dumps(export, ensure_ascii=False, indent=2), name, "application/json"
        )
    rows = services.consent_rows(export)
    chunks = csv_chunks(
        services.CSV_COLUMNS, ([row[c] for c in services.CSV_COLUMNS] for row in rows), bom=False
    )
    return download_response("".join(chunks), name, "text/csv")
