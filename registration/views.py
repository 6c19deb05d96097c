"""Public pages of the registration: the form, the confirmation link, the status page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from sqlalchemy import select

from forum.codes import who_may_apply
from forum.db import utcnow
from forum.extensions import db, limiter
from forum.models import Round

from .forms import PREFILL_FIELDS, ApplicationForm, ConfirmForm
from .services import (
    ConfirmOutcome,
    Outcome,
    application_for_status_token,
    check_confirm_token,
    confirm_application,
    resend_confirmation,
    submit_application,
)

bp = Blueprint("registration", __name__)


def _round_or_404(slug: str) -> Round:
    rnd = db.session.scalar(select(Round).where(Round.slug == slug))
    if rnd is None:
        abort(404)
    return rnd


def _apply_limit() -> str:
    return current_app.config.get("RATELIMIT_APPLY", "20 per minute")


@bp.route("/rounds/<slug>/apply", methods=["GET", "POST"])
@limiter.limit(_apply_limit, methods=["POST"])
def apply(slug: str):
    rnd = _round_or_404(slug)
    form = ApplicationForm()
    if request.method == "GET":
        for name in PREFILL_FIELDS:
            value = request.args.get(name)
            if value:
                getattr(form, name).data = value[:254]
    phase = rnd.phase()
    context = {"round": rnd, "form": form, "phase": phase, "who": who_may_apply(rnd)}
    if phase != "open":
        return render_template("registration/apply.html", **context), (
            200 if request.method == "GET" else 409
        )
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("registration/apply.html", **context), status
    result = submit_application(rnd, form.data, str(get_locale() or "de"))
    if result.outcome == Outcome.INELIGIBLE:
        db.session.rollback()
        return render_template(
            "registration/ineligible.html", round=rnd, failures=result.failures, form=form
        ), 422
    if result.outcome == Outcome.NOT_OPEN:
        db.session.rollback()
        return render_template("registration/apply.html", **context), 409
    db.session.commit()
    # Same page for a new application and for a duplicate: nobody learns who applied.
    return redirect(url_for("registration.check_inbox", slug=rnd.slug))


@bp.get("/rounds/<slug>/check-inbox")
def check_inbox(slug: str):
    rnd = _round_or_404(slug)
    return render_template("registration/check_inbox.html", round=rnd)


@bp.route("/applications/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        result = confirm_application(token)
        if result.outcome == ConfirmOutcome.CONFIRMED:
            db.session.commit()
            return render_template("registration/confirmed.html", application=result.application)
        db.session.rollback()
    else:
        result = check_confirm_token(token)
    status = {
        ConfirmOutcome.READY: 200,
        ConfirmOutcome.ALREADY: 200,
        ConfirmOutcome.EXPIRED: 410,
        ConfirmOutcome.INVALID: 404,
    }[result.outcome]
    return render_template(
        "registration/confirm.html", result=result, form=form, token=token, now=utcnow()
    ), status


@bp.post("/applications/confirm/<token>/resend")
@limiter.limit("5 per hour", key_func=lambda: request.view_args.get("token", ""))
def resend(token: str):
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    result = resend_confirmation(token)
    if result.outcome == ConfirmOutcome.READY:
        db.session.commit()
        return render_template("registration/resent.html", application=result.application)
    db.session.rollback()
    return render_template(
        "registration/confirm.html", result=result, form=form, token=token, now=utcnow()
    ), 410 if result.outcome == ConfirmOutcome.EXPIRED else 404


@bp.get("/status/<token>")
def status(token: str):
    application = application_for_status_token(token)
    if application is None:
        return render_template("registration/bad_link.html"), 404
    return render_template("registration/status.html", application=application, token=token)
