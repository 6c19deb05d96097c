"""The organizers' selection pages: a reviewer's queue, the review form, tags and internal
notes, the selection page with the proposal, staged decisions and their release. Each handler
loads, checks access (404 for forums not assigned), validates its form, calls one service
function, commits and redirects or renders."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from forum.auth import organizer_required, round_or_404
from forum.codes import BODY_TYPES, ROLES, STATES
from forum.extensions import db

from ..access import application_or_404
from ..admission import DecisionOutcome, messages
from ..models import Application
from . import notes, ranking, reviews, staging
from .forms import (
    NoteForm,
    RemoveTagForm,
    SelectionActionForm,
    StageForm,
    TagForm,
    review_form,
)

bp = Blueprint("selection", __name__, url_prefix="/admin")


def _form_errors(form) -> None:
    for f in form:
        for error in f.errors:
            flash(str(error), "error")


# --- review -------------------------------------------------------------------------------------


@bp.get("/rounds/<slug>/review")
@organizer_required
def review_queue(slug: str):
    rnd = round_or_404(slug)
    return render_template(
        "admin/review_queue.html",
        round=rnd,
        entries=reviews.queue(rnd, current_user),
        blind=reviews.is_blind(rnd),
        criteria=reviews.criteria_of(rnd),
        mask=reviews.mask,
    )


def _review_page(application: Application, form, status: int = 200):
    rnd = application.round
    own = reviews.own_review(application, current_user)
    visible = reviews.may_see_scores(own)
    return render_template(
        "admin/review.html",
        application=application,
        round=rnd,
        form=form,
        own=own,
        others=reviews.others_reviews(application, current_user) if visible else [],
        may_see=visible,
        blind=reviews.is_blind(rnd),
        criteria=reviews.criteria_of(rnd),
        reviewable=application.status in reviews.REVIEWABLE,
        mask=reviews.mask,
        status_label=messages.status_label,
    ), status


@bp.get("/applications/<int:application_id>/review")
@organizer_required
def review(application_id: int):
    application = application_or_404(application_id)
    criteria = reviews.criteria_of(application.round)
    own = reviews.own_review(application, current_user)
    data: dict[str, Any] = {}
    if own is not None:
        data = {f"score-{n}": str(s) for n, s in enumerate(own.scores or [], start=1)}
        data.update(note=own.note, conflict=own.conflict)
    form = review_form(criteria, formdata=None, data=data)
    return _review_page(application, form)


@bp.post("/applications/<int:application_id>/review")
@organizer_required
def submit_review(application_id: int):
    application = application_or_404(application_id)
    form = review_form(reviews.criteria_of(application.round))
    if application.status not in reviews.REVIEWABLE:
        db.session.rollback()
        flash(
            _("Diese Bewerbung ist schon entschieden und lässt sich nicht mehr bewerten."), "error"
        )
        return _review_page(application, form, 409)
    if not form.validate_on_submit():
        db.session.rollback()
        return _review_page(application, form, 422)
    reviews.submit_review(
        application,
        current_user,
        form.scores() if not form.conflict.data else [],
        form.note.data or "",
        bool(form.conflict.data),
    )
    slug = application.round.slug
    db.session.commit()
    if form.conflict.data:
        flash(_("Befangenheit vermerkt: Die Bewerbung ist aus Ihrer Liste entfernt."), "success")
        return redirect(url_for(".review_queue", slug=slug))
    flash(_("Bewertung gespeichert."), "success")
    return redirect(url_for(".review", application_id=application_id))


# --- tags and internal notes ----------------------------------------------------------------------


def application_extras(application: Application) -> dict:
    """What the application page shows of selection: tags, internal notes, review figures,
    the staged decision."""
    stats = staging.rows(application.round, ids=[application.id])
    return {
        "tags": notes.tags(application),
        "notes": notes.notes(application),
        "tag_form": TagForm(formdata=None),
        "note_form": NoteForm(formdata=None),
        "remove_tag_form": RemoveTagForm(formdata=None),
        "selection_row": stats[0] if stats else None,
    }


def _back(application_id: int):
    return redirect(url_for("review.application_page", application_id=application_id) + "#notes")


@bp.post("/applications/<int:application_id>/tags")
@organizer_required
def add_tag(application_id: int):
    application = application_or_404(application_id)
    form = TagForm()
    if not form.validate_on_submit():
        db.session.rollback()
        _form_errors(form)
        return _back(application_id)
    if notes.add_tag(application, form.tag.data, current_user):
        db.session.commit()
        flash(_("Schlagwort „%(tag)s“ hinzugefügt.", tag=form.tag.data), "success")
    else:
        db.session.rollback()
        flash(_("Die Bewerbung hat dieses Schlagwort schon."), "warning")
    return _back(application_id)


@bp.post("/applications/<int:application_id>/tags/remove")
@organizer_required
def remove_tag(application_id: int):
    application = application_or_404(application_id)
    form = RemoveTagForm()
    if form.validate_on_submit() and notes.remove_tag(application, form.tag.data, current_user):
        db.session.commit()
        flash(_("Schlagwort „%(tag)s“ entfernt.", tag=form.tag.data), "success")
    else:
        db.session.rollback()
        flash(_("Dieses Schlagwort gibt es bei der Bewerbung nicht."), "error")
    return _back(application_id)


@bp.post("/applications/<int:application_id>/notes")
@organizer_required
def add_note(application_id: int):
    application = application_or_404(application_id)
    form = NoteForm()
    if not form.validate_on_submit():
        db.session.rollback()
        _form_errors(form)
        return _back(application_id)
    notes.add_note(application, form.text.data, current_user)
    db.session.commit()
    flash(_("Notiz gespeichert."), "success")
    return _back(application_id)


# --- selection ----------------------------------------------------------------------------------


def _selection_page(rnd, status: int = 200):
    rows = staging.rows(rnd)
    held = staging.held(rnd)
    target_text = str(request.values.get("target", ""))[:2000].replace("\x00", "")
    codes = {**STATES, **ROLES, **BODY_TYPES}
    targets, target_errors = ranking.parse_targets(target_text, codes)
    group = staging.mix(rnd, rows)
    flat = {code: n for table in group.values() for code, n in table.items()}
    staged_admits = sum(1 for r in rows if r.staged and r.staged.action == "admit")
    by_state = dict(held.by_state)
    by_organisation: dict[str, int] = dict(held.by_organisation)
    for r in rows:
        if r.staged and r.staged.action == "admit":
            by_state[r.application.state] = by_state.get(r.application.state, 0) + 1
            org = r.application.organisation_normalized
            by_organisation[org] = by_organisation.get(org, 0) + 1
    over_org = {
        org: n
        for org, n in by_organisation.items()
        if rnd.max_per_organisation is not None and n > rnd.max_per_organisation
    }
    return render_template(
        "admin/selection.html",
        round=rnd,
        blind=reviews.is_blind(rnd),
        rows=rows,
        held=held,
        staged_admits=staged_admits,
        staged_total=sum(1 for r in rows if r.staged),
        group=group,
        by_state=by_state,
        over_org=over_org,
        targets=[(t, flat.get(t.code, 0)) for t in targets],
        target_text=target_text,
        target_errors=target_errors,
        code_tables={"state": STATES, "role": ROLES, "body_type": BODY_TYPES},
        all_codes=codes,
        action_form=SelectionActionForm(formdata=None),
        stage_form=StageForm(formdata=None),
        status_label=messages.status_label,
    ), status


@bp.get("/rounds/<slug>/selection")
@organizer_required
def selection(slug: str):
    return _selection_page(round_or_404(slug))


def _selection_url(slug: str) -> str:
    target = str(request.form.get("target", ""))[:2000]
    extra: dict[str, Any] = {"target": target} if target.strip() else {}
    return url_for(".selection", slug=slug, **extra)


@bp.post("/rounds/<slug>/selection")
@organizer_required
def selection_action(slug: str):
    rnd = round_or_404(slug)
    form = SelectionActionForm()
    if not form.validate_on_submit():
        db.session.rollback()
        _form_errors(form)
        return redirect(_selection_url(slug))
    if form.action.data == "propose":
        result = staging.propose(rnd, current_user)
        db.session.commit()
        flash(
            _(
                "Vorschlag vorgemerkt: %(admit)d zulassen, %(waitlist)d auf die Warteliste. "
                "Noch ist nichts entschieden und keine E-Mail verschickt.",
                admit=result.admit,
                waitlist=result.waitlist,
            ),
            "success",
        )
        return redirect(_selection_url(slug))
    released = staging.release(rnd, current_user)
    if not released.count:
        db.session.rollback()
        flash(_("Es gibt keine vorgemerkten Entscheidungen (mehr) freizugeben."), "warning")
        return redirect(_selection_url(slug))
    db.session.commit()
    changed = sum(1 for r in released.results if r.changed)
    flash(
        _(
            "%(n)d vorgemerkte Entscheidungen freigegeben, %(changed)d Bewerbungen geändert; "
            "die E-Mails werden verschickt.",
            n=released.count,
            changed=changed,
        ),
        "success",
    )
    for item in released.results:
        if item.outcome in (DecisionOutcome.WAITLISTED, DecisionOutcome.REFUSED):
            flash(messages.result_message(item), messages.result_category(item))
    return redirect(_selection_url(slug))


@bp.post("/rounds/<slug>/selection/stage")
@organizer_required
def stage(slug: str):
    rnd = round_or_404(slug)
    form = StageForm()
    if not form.validate_on_submit():
        db.session.rollback()
        _form_errors(form)
        return redirect(_selection_url(slug))
    application = db.session.get(Application, int(form.application_id.data))
    if application is None or application.round_id != rnd.id:
        db.session.rollback()
        flash(_("Diese Bewerbung gehört nicht zu dieser Runde."), "error")
        return redirect(_selection_url(slug))
    decision = None if form.decision.data == "none" else form.decision.data
    try:
        staging.stage(application, decision, form.message.data or "", current_user)
    except staging.StagingError:
        db.session.rollback()
        flash(_("Diese Bewerbung ist schon entschieden; es wurde nichts vorgemerkt."), "error")
        return redirect(_selection_url(slug))
    db.session.commit()
    flash(_("Vorgemerkt."), "success")
    return redirect(_selection_url(slug) + f"#row-{application.id}")
