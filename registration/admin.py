"""The organizers' pages for review: the round's dashboard, one application, decisions, the
waitlist, the CSV export. Each handler loads, checks access (404 for forums not assigned),
validates its form, calls one service function, commits and redirects."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

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
from sqlalchemy import func, select

from forum import audit
from forum.auth import organizer_required, round_or_404
from forum.extensions import db
from forum.models import OutboxMessage
from forum.outbox import request_flush
from forum.suppression import active_suppression, suppressed_addresses

from . import admission, dashboard, groups, invitations, lifecycle, services
from .access import application_or_404
from .admission import messages
from .forms import (
    BulkDecisionForm,
    DecisionForm,
    GroupAssignForm,
    GroupCreateForm,
    GroupProposeForm,
    InvitationUploadForm,
    LiftSuppressionForm,
    MoveForm,
    RevokeForm,
)
from .models import Actor, Application, ApplicationEvent
from .participants import attendance
from .selection.views import application_extras

bp = Blueprint("review", __name__, url_prefix="/admin")


def _flash_results(results: list[admission.Result]) -> None:
    for result in results[:20]:
        flash(messages.result_message(result), messages.result_category(result))
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
    page = dashboard.list_page(rnd, filters)
    return render_template(
        "admin/round.html",
        round=rnd,
        stats=dashboard.round_stats(rnd),
        page=page,
        filters=filters,
        statuses=dashboard.STATUS_ORDER,
        status_label=messages.status_label,
        bulk_form=BulkDecisionForm(formdata=None),
        bounces=suppressed_addresses([a.email for a in page.items]),
        invitation_counts=invitations.counts(rnd),
        meeting_figures=attendance.summary(rnd),
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
    audit.record(
        "decision",
        f"round {rnd.slug}",
        f"{form.action.data}: " + ", ".join(str(a.id) for a in applications),
    )
    db.session.commit()
    _flash_results(results)
    return redirect(target)


# --- invitations ------------------------------------------------------------------------------

MAX_UPLOAD = 2 * 1024 * 1024


def _invitations_page(rnd, form, status: int = 200, report=None):
    return render_template(
        "admin/invitations.html",
        round=rnd,
        form=form,
        counts=invitations.counts(rnd),
        invitations=invitations.listing(rnd),
        report=report,
    ), status


@bp.get("/rounds/<slug>/invitations")
@organizer_required
def invitations_page(slug: str):
    rnd = round_or_404(slug)
    return _invitations_page(rnd, InvitationUploadForm(formdata=None))


@bp.post("/rounds/<slug>/invitations")
@organizer_required
def invite(slug: str):
    rnd = round_or_404(slug)
    form = InvitationUploadForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _invitations_page(rnd, form, 422)
    data = form.file.data.read(MAX_UPLOAD + 1)
    try:
        if len(data) > MAX_UPLOAD:
            raise invitations.InvitationFileError(_("die Datei ist größer als 2 MB"))
        report = invitations.invite(
            rnd, invitations.decode(data), by=current_user.email, locale="de"
        )
    except invitations.InvitationFileError as exc:
        db.session.rollback()
        form.file.errors = [_("Die Datei lässt sich nicht lesen: %(reason)s", reason=str(exc))]
        return _invitations_page(rnd, form, 422)
    db.session.commit()
    flash(
        _(
            "%(invited)d Personen eingeladen, %(present)d waren schon eingeladen.",
            invited=report.invited,
            present=report.present,
        ),
        "success" if report.invited else "info",
    )
    if report.errors:
        return _invitations_page(rnd, InvitationUploadForm(formdata=None), 422, report=report)
    return redirect(url_for(".invitations_page", slug=slug))


# --- groups ------------------------------------------------------------------------------------

GROUP_ERRORS = {
    "empty": lambda: _("Bitte geben Sie einen Namen an."),
    "exists": lambda: _("Eine Gruppe mit diesem Namen gibt es schon."),
    "too_many": lambda: _("Höchstens %(n)d Gruppen je Runde.", n=groups.MAX_GROUPS),
    "not_holder": lambda: _("Nur wer einen Platz hält, kann einer Gruppe angehören."),
    "no_group": lambda: _("Diese Gruppe gibt es in dieser Runde nicht."),
    "conflict": lambda: _("Die Gruppen wurden gleichzeitig geändert; bitte noch einmal."),
}


def _groups_page(rnd, status: int = 200, **forms):
    return render_template(
        "admin/groups.html",
        round=rnd,
        groups=groups.groups_of(rnd),
        holders=groups.seat_holders(rnd),
        membership=groups.membership(rnd),
        create_form=forms.get("create_form") or GroupCreateForm(formdata=None),
        propose_form=forms.get("propose_form") or GroupProposeForm(formdata=None),
        assign_form=GroupAssignForm(formdata=None),
    ), status


@bp.get("/rounds/<slug>/groups")
@organizer_required
def groups_page(slug: str):
    return _groups_page(round_or_404(slug))


def _group_error(rnd, exc: groups.GroupError, **forms):
    db.session.rollback()
    flash(GROUP_ERRORS[str(exc)](), "error")
    return _groups_page(rnd, 422, **forms)


@bp.post("/rounds/<slug>/groups")
@organizer_required
def group_create(slug: str):
    rnd = round_or_404(slug)
    form = GroupCreateForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _groups_page(rnd, 422, create_form=form)
    try:
        group = groups.create_group(rnd, form.name.data)
    except groups.GroupError as exc:
        return _group_error(rnd, exc, create_form=form)
    db.session.commit()
    flash(_("Gruppe „%(name)s“ angelegt.", name=group.name), "success")
    return redirect(url_for(".groups_page", slug=slug))


@bp.post("/rounds/<slug>/groups/propose")
@organizer_required
def group_propose(slug: str):
    rnd = round_or_404(slug)
    form = GroupProposeForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _groups_page(rnd, 422, propose_form=form)
    made = groups.apply_proposal(rnd, form.size.data)
    db.session.commit()
    flash(
        _(
            "Vorschlag übernommen: %(n)d Gruppen; Bundesländer, Funktionen und Arten der "
            "Organisation sind möglichst gleichmäßig verteilt. Sie können einzelne Personen "
            "unten von Hand umsetzen.",
            n=len(made),
        ),
        "success",
    )
    return redirect(url_for(".groups_page", slug=slug))


@bp.post("/rounds/<slug>/groups/assign")
@organizer_required
def group_assign(slug: str):
    rnd = round_or_404(slug)
    form = GroupAssignForm()
    assignment = form.assignment(request.form) if form.validate_on_submit() else None
    if assignment is None:
        db.session.rollback()
        flash(_("Die Zuordnung enthält ungültige Einträge; nichts wurde geändert."), "error")
        return _groups_page(rnd, 422)
    try:
        changed = groups.assign(rnd, assignment)
    except groups.GroupError as exc:
        return _group_error(rnd, exc)
    db.session.commit()
    flash(_("%(n)d Personen umgesetzt.", n=changed), "success")
    return redirect(url_for(".groups_page", slug=slug))


@bp.post("/rounds/<slug>/groups/<int:group_id>/delete")
@organizer_required
def group_delete(slug: str, group_id: int):
    rnd = round_or_404(slug)
    form = GroupAssignForm()  # the CSRF token only
    if not form.validate_on_submit() or not groups.delete_group(rnd, group_id):
        db.session.rollback()
        abort(404)
    db.session.commit()
    flash(_("Gruppe gelöscht; ihre Mitglieder sind keiner Gruppe mehr zugeordnet."), "success")
    return redirect(url_for(".groups_page", slug=slug))


@bp.get("/rounds/<slug>/applications.csv")
@organizer_required
def export(slug: str):
    """The machine-readable CSV (the contract); ``?format=excel``: the variant for German Excel
    (semicolons, labels, local times)."""
    rnd = round_or_404(slug)
    if request.args.get("format", "") not in ("", "excel"):
        abort(400)
    excel = request.args.get("format") == "excel"
    audit.record_read(
        "export", f"round {rnd.slug}", "applications.csv" + (" (Excel)" if excel else "")
    )
    if request.args.get("format") == "excel":
        rows = dashboard.export_excel_csv(rnd, messages.status_label)
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
    audit.record_read("export", f"round {rnd.slug}", "applications.xlsx")
    response = Response(dashboard.export_xlsx(rnd, messages.status_label), content_type=XLSX)
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
    held = active_suppression(application.email)
    held_mails: Sequence[OutboxMessage] = []
    if held is not None:
        held_mails = db.session.scalars(
            select(OutboxMessage)
            .where(
                func.lower(OutboxMessage.recipient) == held.email_normalized,
                OutboxMessage.suppressed_at.is_not(None),
                OutboxMessage.sent_at.is_(None),
            )
            .order_by(OutboxMessage.id)
        ).all()
    return render_template(
        "admin/application.html",
        application=application,
        suppression=held,
        held_mails=held_mails,
        lift_form=forms.get("lift_form") or LiftSuppressionForm(formdata=None),
        round=application.round,
        events=events,
        status_label=messages.status_label,
        decision_form=forms.get("decision_form") or DecisionForm(formdata=None),
        revoke_form=forms.get("revoke_form") or RevokeForm(formdata=None),
        move_form=forms.get("move_form") or MoveForm(formdata=None),
        actions=lifecycle.allowed_actions(application, Actor.ORGANIZER),
        **application_extras(application),
    ), status


@bp.get("/applications/<int:application_id>")
@organizer_required
def application_page(application_id: int):
    return _application_page(application_or_404(application_id))


def _done(application: Application, result: admission.Result):
    application_id = application.id
    if result.changed:
        db.session.commit()
    else:
        db.session.rollback()
    _flash_results([result])
    return redirect(url_for(".application_page", application_id=application_id))


def _act(
    application_id: int,
    form: Any,
    form_name: str,
    what: str,
    change: Callable[[Application, Any], admission.Result],
    detail: str = "",
):
    """One organizer action on one application: validate ``form`` (else the page again with
    its errors), ``change``, audit, commit when something changed."""
    application = application_or_404(application_id)
    if not form.validate_on_submit():
        db.session.rollback()
        return _application_page(application, 422, **{form_name: form})
    result = change(application, form)
    audit.record(what, f"application {application.id}", detail)
    return _done(application, result)


@bp.post("/applications/<int:application_id>/decision")
@organizer_required
def decision(application_id: int):
    form = DecisionForm()
    return _act(
        application_id,
        form,
        "decision_form",
        "decision",
        lambda a, f: admission.decide(a, f.action.data, current_user, f.message.data or ""),
        form.action.data or "",
    )


@bp.post("/applications/<int:application_id>/revoke")
@organizer_required
def revoke(application_id: int):
    return _act(
        application_id,
        RevokeForm(),
        "revoke_form",
        "revoke",
        lambda a, f: admission.revoke(a, current_user, f.reason.data),
    )


@bp.post("/applications/<int:application_id>/move")
@organizer_required
def move(application_id: int):
    form = MoveForm()
    return _act(
        application_id,
        form,
        "move_form",
        "waitlist_move",
        lambda a, f: admission.move_on_waitlist(a, f.position.data, current_user, f.reason.data),
        f"to {form.position.data}",
    )


@bp.post("/applications/<int:application_id>/lift-suppression")
@organizer_required
def lift_suppression(application_id: int):
    application = application_or_404(application_id)
    form = LiftSuppressionForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _application_page(application, 422, lift_form=form)
    lifted = services.lift_suppression(application, current_user, form.reason.data)
    db.session.commit()
    if lifted:
        request_flush()  # the held mails go out now
        flash(
            _("Die Adresssperre ist aufgehoben; zurückgehaltene E-Mails werden gesendet."), "info"
        )
    else:
        flash(_("Die Adresse war nicht gesperrt."), "info")
    return redirect(url_for(".application_page", application_id=application_id))
