"""The organizers' pages for review: the round's dashboard, one application, decisions, the
waitlist, the CSV export. Each handler loads, checks access (404 for forums not assigned),
validates its form, calls one service function, commits and redirects."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from forum.auth import organizer_required, require_forum, round_or_404
from forum.extensions import db

from . import admission, dashboard
from .forms import BulkDecisionForm, DecisionForm, MoveForm, RevokeForm
from .models import HOLDING, Application, ApplicationEvent, Status

bp = Blueprint("review", __name__, url_prefix="/admin")


def _application(application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None:
        abort(404)
    require_forum(application.round.forum_id)
    return application


def _flash_results(results: list[admission.Result]) -> None:
    for result in results[:20]:
        flash(result.message, result.category)
        for promoted in result.promoted:
            flash(
                _(
                    "Von der Warteliste nachgerückt: %(name)s (Platz angeboten).",
                    name=promoted.full_name,
                ),
                "success",
            )
    if len(results) > 20:
        changed = sum(1 for r in results if r.changed)
        flash(
            _(
                "… und %(more)d weitere. Insgesamt geändert: %(changed)d von %(total)d.",
                more=len(results) - 20,
                changed=changed,
                total=len(results),
            ),
            "info",
        )


# --- the round -----------------------------------------------------------------------------------


@bp.get("/rounds/<slug>")
@organizer_required
def round_dashboard(slug: str):
    rnd = round_or_404(slug)
    filters = dashboard.Filters.from_args(request.args)
    return render_template(
        "admin/round.html",
        round=rnd,
        stats=dashboard.round_stats(rnd),
        page=dashboard.list_page(rnd, filters),
        filters=filters,
        statuses=dashboard.STATUS_ORDER,
        status_label=admission.status_label,
        bulk_form=BulkDecisionForm(formdata=None),
    )


@bp.post("/rounds/<slug>/decisions")
@organizer_required
def bulk_decision(slug: str):
    rnd = round_or_404(slug)
    form = BulkDecisionForm()
    back = request.form.get("back", "")
    target = back if back.startswith("/admin/rounds/") else url_for(".round_dashboard", slug=slug)
    if not form.validate_on_submit():
        db.session.rollback()
        for name in ("ids", "action", "message"):
            for error in getattr(form, name).errors:
                flash(str(error), "error")
        return redirect(target)
    applications = list(
        db.session.scalars(
            select(Application)
            .where(Application.round_id == rnd.id, Application.id.in_(form.ids.data))
            .order_by(Application.id)
        )
    )
    if not applications:
        flash(_("Keine der ausgewählten Bewerbungen gehört zu dieser Runde."), "error")
        return redirect(target)
    results = admission.decide_many(
        rnd, applications, form.action.data, current_user, form.message.data or ""
    )
    db.session.commit()
    _flash_results(results)
    return redirect(target)


@bp.get("/rounds/<slug>/applications.csv")
@organizer_required
def export(slug: str):
    """The machine-readable CSV (the contract); ``?format=excel``: the variant for German Excel
    (semicolons, labels, local times)."""
    rnd = round_or_404(slug)
    if request.args.get("format", "") not in ("", "excel"):
        abort(400)
    if request.args.get("format") == "excel":
        rows = dashboard.export_excel_csv(rnd, admission.status_label)
        name = f"{rnd.slug}-bewerbungen-excel.csv"
    else:
        rows, name = dashboard.export_csv(rnd), f"{rnd.slug}-bewerbungen.csv"
    response = Response(stream_with_context(rows), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/rounds/<slug>/applications.xlsx")
@organizer_required
def export_xlsx(slug: str):
    rnd = round_or_404(slug)
    response = Response(dashboard.export_xlsx(rnd, admission.status_label), content_type=XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="{rnd.slug}-bewerbungen.xlsx"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --- one application ------------------------------------------------------------------------------


def _application_page(application: Application, status: int = 200, **forms):
    events = db.session.scalars(
        select(ApplicationEvent)
        .where(ApplicationEvent.application_id == application.id)
        .order_by(ApplicationEvent.id)
    ).all()
    return render_template(
        "admin/application.html",
        application=application,
        round=application.round,
        events=events,
        status_label=admission.status_label,
        decision_form=forms.get("decision_form") or DecisionForm(formdata=None),
        revoke_form=forms.get("revoke_form") or RevokeForm(formdata=None),
        move_form=forms.get("move_form") or MoveForm(formdata=None),
        holding=application.status in HOLDING,
        waitlisted=application.status == Status.WAITLISTED,
        decidable=application.status in (Status.SUBMITTED, Status.WAITLISTED),
    ), status


@bp.get("/applications/<int:application_id>")
@organizer_required
def application_page(application_id: int):
    return _application_page(_application(application_id))


def _done(application: Application, result: admission.Result):
    application_id = application.id
    if result.changed:
        db.session.commit()
    else:
        db.session.rollback()
    _flash_results([result])
    return redirect(url_for(".application_page", application_id=application_id))


@bp.post("/applications/<int:application_id>/decision")
@organizer_required
def decision(application_id: int):
    application = _application(application_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _application_page(application, 422, decision_form=form)
    result = admission.decide(application, form.action.data, current_user, form.message.data or "")
    return _done(application, result)


@bp.post("/applications/<int:application_id>/revoke")
@organizer_required
def revoke(application_id: int):
    application = _application(application_id)
    form = RevokeForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _application_page(application, 422, revoke_form=form)
    return _done(application, admission.revoke(application, current_user, form.reason.data))


@bp.post("/applications/<int:application_id>/move")
@organizer_required
def move(application_id: int):
    application = _application(application_id)
    form = MoveForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _application_page(application, 422, move_form=form)
    result = admission.move_on_waitlist(
        application, form.position.data, current_user, form.reason.data
    )
    return _done(application, result)
