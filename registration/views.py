"""Public pages of the registration: the form, the confirmation link, the status page."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from forum.codes import is_open_format, who_may_apply
from forum.db import reads_first, utcnow
from forum.extensions import db, limiter
from forum.form_limits import max_length
from forum.models import Round, RoundFacts, round_facts

from . import admission, lifecycle
from .access import by_token
from .admission import DecisionOutcome
from .forms import (
    PREFILL_FIELDS,
    ApplicationForm,
    ConfirmForm,
    OfferForm,
    ShareContactForm,
    WithdrawForm,
)
from .invitations import Answer, apply_with_invitation, invitation_for_token
from .invitations import decline as decline_invitation
from .models import Actor, Application, Invitation, Status
from .network import participant_groups, set_share_contact, visible_participants
from .services import (
    ApplyOutcome,
    ConfirmOutcome,
    application_for_offer_token,
    application_for_status_token,
    check_confirm_token,
    confirm_application,
    pending_form_data,
    resend_confirmation,
    submit_application,
)
from .tokens import Purpose, make_token

bp = Blueprint("registration", __name__)


def _round_or_404(slug: str, *, with_meetings: bool = False) -> Round:
    stmt = select(Round).where(Round.slug == slug)
    if with_meetings:
        # The form page and the confirmation mail show the forum and the meetings: loaded
        # with the round in one query (a round has a few meetings), not lazily one by one.
        stmt = stmt.options(joinedload(Round.forum), joinedload(Round.meetings))
    rnd = db.session.execute(stmt).unique().scalar_one_or_none()
    if rnd is None:
        abort(404)
    return rnd


def _apply_limit() -> str:
    return current_app.config["RATELIMIT_APPLY"]


@bp.route("/rounds/<slug>/apply", methods=["GET", "POST"])
@limiter.limit(_apply_limit, methods=["POST"])
@reads_first  # validated and checked before SQLite's write lock is taken
def apply(slug: str):
    # A page shows the forum and the meetings; a stored application is answered with a
    # redirect alone (its mail is built by the flush job), so a POST reads only the round's
    # facts and loads the round if it shows a page after all.
    get = request.method == "GET"
    rnd: Round | RoundFacts | None = (
        _round_or_404(slug, with_meetings=True) if get else round_facts(slug)
    )
    if rnd is None:
        abort(404)
    form = ApplicationForm().for_round(rnd)
    if request.method == "GET":
        for name in PREFILL_FIELDS:
            value = request.args.get(name)
            if value:
                field = getattr(form, name)
                field.data = value[: max_length(field) or 254]
        if request.args.get("correct"):
            # "Wrong address?" from the check-inbox page: the form again, as it was sent.
            assert isinstance(rnd, Round)
            for name, value in pending_form_data(rnd, _applied(rnd).get("id")).items():
                getattr(form, name).data = value
    form.offer_only(rnd)
    phase = rnd.phase()

    def context() -> dict:
        # Built only for a page: a stored application is answered with a redirect alone.
        shown = rnd if isinstance(rnd, Round) else _round_or_404(slug, with_meetings=True)
        return {
            "round": shown,
            "form": form,
            "phase": phase,
            "who": who_may_apply(shown),
            "open_format": is_open_format(shown),
        }

    def page(status: int):
        return render_template("registration/apply.html", **context()), status

    if phase != "open":
        return page(200 if request.method == "GET" else 409)
    if not form.validate_on_submit():
        return page(422 if request.method == "POST" else 200)
    result = submit_application(rnd, form.data, str(get_locale() or "de"))
    if result.outcome == ApplyOutcome.INELIGIBLE:
        db.session.rollback()
        # The form comes along, filled in: nothing typed is lost.
        return render_template(
            "registration/ineligible.html", failures=result.failures, **context()
        ), 422
    if result.outcome == ApplyOutcome.NOT_OPEN:
        db.session.rollback()
        return page(409)
    if result.outcome == ApplyOutcome.INVITATION_REQUIRED:
        db.session.rollback()
        form.email.errors = [NOT_INVITED()]
        return page(403)
    db.session.commit()
    # Same page and same session for a new application and for a duplicate: nobody learns who
    # applied. The page names the address typed; only an application stored here can be opened
    # again to correct it (a duplicate's id names no application).
    session["applied"] = {"round": rnd.slug, "email": form.email.data, "id": result.public_id}
    return redirect(url_for("registration.check_inbox", slug=rnd.slug))


def NOT_INVITED() -> str:  # noqa: N802
    return _(
        "Diese Runde ist nur auf Einladung offen, und für diese Adresse liegt keine Einladung "
        "vor. Bitte nutzen Sie die Adresse, an die Ihre Einladung ging."
    )


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@limiter.limit(_apply_limit, methods=["POST"])
@by_token(invitation_for_token)
def invitation(invitation: Invitation, token: str):
    """The link in an invitation mail: the round's form, prefilled and bound to the invited
    address (GET changes nothing)."""
    rnd = invitation.round
    form = ApplicationForm().for_round(rnd)
    if request.method == "GET":
        for name in ("email", "first_name", "last_name", "organisation", "state", "role"):
            getattr(form, name).data = getattr(invitation, name)
        form.body_type.data = invitation.body_type
    phase = rnd.phase()
    context = {
        "round": rnd,
        "form": form,
        "phase": phase,
        "who": who_may_apply(rnd),
        "open_format": is_open_format(rnd),
        "invitation": invitation,
        "invitation_token": token,
        "form_action": url_for("registration.invitation", token=token),
        "decline_form": ConfirmForm(formdata=None) if invitation.application_id is None else None,
    }
    if invitation.application_id is not None and request.method == "GET":
        return render_template("registration/invitation_answered.html", invitation=invitation)
    if phase != "open":
        return render_template("registration/apply.html", **context), (
            200 if request.method == "GET" else 409
        )
    if not form.validate_on_submit():
        return render_template("registration/apply.html", **context), (
            422 if request.method == "POST" else 200
        )
    result = apply_with_invitation(invitation, form.data, str(get_locale() or "de"))
    if result.answer == Answer.INELIGIBLE:
        db.session.rollback()
        return render_template(
            "registration/ineligible.html", round=rnd, failures=result.failures, form=form
        ), 422
    if result.answer in (Answer.NOT_OPEN, Answer.REFUSED):
        db.session.rollback()
        if result.answer == Answer.REFUSED:
            form.email.errors = [
                _(
                    "Diese Einladung gilt nur für die Adresse, an die sie ging. Die Teilnahme "
                    "ist nur auf Einladung möglich; bitte wenden Sie sich an das "
                    "Organisationsteam, wenn Sie teilnehmen möchten."
                )
            ]
        return render_template("registration/apply.html", **context), 403 if (
            result.answer == Answer.REFUSED
        ) else 409
    db.session.commit()
    if result.answer == Answer.ORDINARY:
        return redirect(url_for("registration.check_inbox", slug=rnd.slug))
    if result.answer == Answer.DUPLICATE:
        return render_template("registration/invitation_answered.html", invitation=invitation)
    flash(_("Vielen Dank! Ihre Anmeldung ist eingegangen."), "success")
    assert result.application is not None  # SUBMITTED carries the application
    return redirect(
        url_for(
            "registration.status", token=make_token(Purpose.STATUS, result.application.public_id)
        )
    )


@bp.post("/invitations/<token>/decline")
@by_token(invitation_for_token)
def invitation_decline(invitation: Invitation, token: str):
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if not decline_invitation(invitation):
        db.session.rollback()
        return render_template("registration/invitation_answered.html", invitation=invitation)
    db.session.commit()
    return render_template("registration/invitation_declined.html", invitation=invitation)


def _applied(rnd: Round | RoundFacts) -> dict:
    applied = session.get("applied")
    return applied if isinstance(applied, dict) and applied.get("round") == rnd.slug else {}


@bp.get("/rounds/<slug>/check-inbox")
def check_inbox(slug: str):
    rnd = _round_or_404(slug)
    return render_template("registration/check_inbox.html", round=rnd, applied=_applied(rnd))


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
@limiter.limit("5 per hour", key_func=lambda: (request.view_args or {}).get("token", ""))
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


def _status_page(application: Application, token: str, withdraw_form=None, status: int = 200):
    participants = visible_participants(application)
    group_context = participant_groups(application, participants)
    share_form = ShareContactForm(formdata=None)
    share_form.share_contact.data = application.share_contact
    actions = lifecycle.allowed_actions(application, Actor.APPLICANT)
    offer_token = None
    if lifecycle.Action.ACCEPT in actions:
        offer_token = make_token(Purpose.OFFER, application.public_id)
    return render_template(
        "registration/status.html",
        application=application,
        token=token,
        offer_token=offer_token,
        offer_form=OfferForm(formdata=None),
        withdraw_form=withdraw_form or WithdrawForm(formdata=None),
        withdrawable=lifecycle.Action.WITHDRAW in actions,
        now=utcnow(),
        share_form=share_form,
        participants=participants,
        **group_context,
    ), status


@bp.get("/status/<token>")
@by_token(application_for_status_token)
def status(application: Application, token: str):
    return _status_page(application, token)


@bp.post("/status/<token>/withdraw")
@by_token(application_for_status_token)
def withdraw(application: Application, token: str):
    form = WithdrawForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _status_page(application, token, withdraw_form=form, status=422)
    result = admission.withdraw(application)
    if result.outcome != DecisionOutcome.WITHDRAWN:
        db.session.rollback()
        flash(_("Diese Bewerbung lässt sich nicht mehr zurückziehen."), "error")
        return redirect(url_for("registration.status", token=token))
    db.session.commit()
    flash(_("Sie haben Ihre Bewerbung zurückgezogen. Eine Bestätigung ist unterwegs."), "success")
    return redirect(url_for("registration.status", token=token))


@bp.post("/status/<token>/share-contact")
@by_token(application_for_status_token)
def share_contact(application: Application, token: str):
    """Give or withdraw the consent to the participant list; takes effect at once."""
    form = ShareContactForm()
    if not form.validate_on_submit():
        abort(400)
    changed = set_share_contact(application, bool(form.share_contact.data))
    db.session.commit()
    if changed:
        flash(
            _("Sie stehen jetzt in der Teilnehmendenliste dieser Runde.")
            if application.share_contact
            else _("Ihre Einwilligung ist widerrufen: Die anderen sehen Sie nicht mehr."),
            "success",
        )
    return redirect(url_for("registration.status", token=token))


@bp.route("/offers/<token>", methods=["GET", "POST"])
@by_token(application_for_offer_token)
def offer(application: Application, token: str):
    """The offer page: GET shows the offer and changes nothing; the buttons POST ``action`` =
    ``accept`` | ``decline``."""
    form = OfferForm()
    code = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            db.session.rollback()
            return _offer_page(application, token, form, 400, invalid=True)
        if form.action.data == "accept":
            result = admission.accept_offer(application)
        else:
            result = admission.decline_offer(application)
        if result.outcome == DecisionOutcome.REFUSED:
            db.session.rollback()
            code = 409
        else:
            db.session.commit()
            if result.outcome == DecisionOutcome.LAPSED:
                code = 410
            else:
                if result.outcome == DecisionOutcome.ACCEPTED:
                    flash(_("Vielen Dank für Ihre Zusage! Wir freuen uns auf Sie."), "success")
                else:
                    flash(
                        _("Sie haben den Platz abgelehnt. Vielen Dank für Ihre Rückmeldung."),
                        "info",
                    )
                return redirect(url_for("registration.offer", token=token))
    return _offer_page(application, token, form, code)


def _offer_page(application, token, form, code, invalid=False):
    now = utcnow()
    expired = (
        lifecycle.can(application, Status.ACCEPTED, Actor.APPLICANT)
        and application.offer_deadline is not None
        and application.offer_deadline < now
    )
    if expired and code == 200:
        code = 410
    return render_template(
        "registration/offer.html",
        application=application,
        token=token,
        form=form,
        expired=expired,
        invalid=invalid,
        now=now,
        status_link=url_for(
            "registration.status", token=make_token(Purpose.STATUS, application.public_id)
        ),
    ), code
