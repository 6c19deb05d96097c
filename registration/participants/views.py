"""Organizer pages for running a round: messages to its participants."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from forum.auth import organizer_required, round_or_404
from forum.csvdownload import download_name, download_response
from forum.extensions import db
from forum.loader import MEETING_FIELDS, ForumFileError, check_value

from ..access import application_or_404, by_token
from ..admission.messages import status_label
from ..models import Application
from ..services import application_for_status_token
from . import attendance, certificates, edits, messages
from .forms import (
    EDITABLE_FIELDS,
    AttendanceForm,
    EditApplicationForm,
    MeetingNotesForm,
    MessageForm,
)

bp = Blueprint("participants", __name__, url_prefix="/admin")
#: The participant's own pages (the status link's token).
public_bp = Blueprint("participant", __name__)


def _message_form(rnd, **kwargs) -> MessageForm:
    form = MessageForm(**kwargs)
    form.group.choices = [SelectChoice("", _("die ganze Auswahl oben"))] + [
        SelectChoice(str(g.id), g.name) for g in messages.round_groups(rnd)
    ]
    return form


def _messages_page(rnd, form, rendered=None, status: int = 200):
    return render_template(
        "admin/messages.html",
        round=rnd,
        form=form,
        rendered=rendered,
        counts=messages.audience_counts(rnd),
        audiences=messages.AUDIENCES,
        sent=messages.sent_messages(rnd),
    ), status


@bp.get("/rounds/<slug>/messages")
@organizer_required
def round_messages(slug: str):
    rnd = round_or_404(slug)
    return _messages_page(rnd, _message_form(rnd, formdata=None))


@bp.post("/rounds/<slug>/messages")
@organizer_required
def compose(slug: str):
    """One form, three buttons (``action``): ``preview``, ``test`` (to yourself), ``send``."""
    rnd = round_or_404(slug)
    form = _message_form(rnd)
    action = request.form.get("action", "")
    if action not in ("preview", "test", "send"):
        db.session.rollback()
        flash(_("Unbekannte Aktion. Es wurde nichts gesendet."), "error")
        return _messages_page(rnd, form, status=400)
    if not form.validate_on_submit():
        db.session.rollback()
        return _messages_page(rnd, form, status=400)
    locale = str(get_locale() or "de")
    name = current_user.name or current_user.email
    subject, body = form.subject.data, form.body.data
    if action == "preview":
        rendered = messages.preview(rnd, subject, body, name, locale)
        return _messages_page(rnd, form, rendered)
    if action == "test":
        messages.send_test_message(rnd, subject, body, current_user.email, name, locale)
        db.session.commit()
        flash(
            _("Eine Testnachricht ist an %(email)s unterwegs.", email=current_user.email),
            "success",
        )
        return _messages_page(rnd, form)
    group = (
        next(g for g in messages.round_groups(rnd) if str(g.id) == form.group.data)
        if form.group.data
        else None
    )
    sent = messages.send_round_message(
        rnd, form.audience.data, subject, body, sender=current_user.email, group=group
    )
    db.session.commit()
    flash(
        _(
            "Die Nachricht „%(subject)s“ geht an %(n)d Empfänger*innen.",
            subject=sent.subject,
            n=sent.recipients,
        ),
        "success",
    )
    return redirect(url_for(".round_messages", slug=rnd.slug))


# --- meetings: agenda, documentation, attendance ---------------------------------------------


def _meeting_or_404(slug: str, key: str):
    rnd = round_or_404(slug)
    meeting = attendance.meeting_by_key(rnd, key)
    if meeting is None:
        abort(404)
    return rnd, meeting


@bp.route("/rounds/<slug>/meetings/<key>", methods=["GET", "POST"])
@organizer_required
def meeting(slug: str, key: str):
    rnd, meeting = _meeting_or_404(slug, key)
    form = MeetingNotesForm(obj=meeting)
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                # The same check as the forum file's keys.
                values = {
                    name: check_value(
                        "meeting",
                        MEETING_FIELDS,
                        name,
                        (getattr(form, name).data or "").replace("\r\n", "\n"),
                    )
                    for name in ("agenda", "documentation")
                }
            except ForumFileError as exc:
                getattr(form, exc.where.rsplit(".", 1)[-1]).errors.append(exc.message)
            else:
                meeting.agenda = values["agenda"]
                meeting.documentation = values["documentation"]
                db.session.commit()
                flash(_("Tagesordnung und Dokumentation sind gespeichert."), "success")
                return redirect(url_for(".meeting", slug=rnd.slug, key=meeting.key))
        db.session.rollback()
        return render_template("admin/meeting.html", round=rnd, meeting=meeting, form=form), 400
    return render_template("admin/meeting.html", round=rnd, meeting=meeting, form=form)


def _attendance_page(rnd, meeting, error: str = "", status: int = 200):
    return render_template(
        "admin/attendance.html",
        round=rnd,
        meeting=meeting,
        people=attendance.people(meeting),
        current=attendance.current(meeting),
        presences=[p.value for p in attendance.Presence],
        presence_label=attendance.presence_label,
        status_label=status_label,
        error=error,
    ), status


@bp.route("/rounds/<slug>/meetings/<key>/attendance", methods=["GET", "POST"])
@organizer_required
def attendance_page(slug: str, key: str):
    """One form for the whole list, ``status-<application id>`` = attended | excused |
    absent; made for a tablet at the door."""
    rnd, meeting = _meeting_or_404(slug, key)
    if request.method == "GET":
        return _attendance_page(rnd, meeting)
    if not AttendanceForm().validate_on_submit():
        db.session.rollback()
        return _attendance_page(rnd, meeting, _("Das Formular ist abgelaufen."), 400)
    try:
        values = attendance.parse_form(meeting, request.form)
    except attendance.AttendanceError as exc:
        db.session.rollback()
        return _attendance_page(rnd, meeting, str(exc), 400)
    changed = attendance.record(meeting, values, by=current_user.email)
    db.session.commit()
    flash(_("Anwesenheit gespeichert (%(n)d Änderungen).", n=changed), "success")
    return redirect(url_for(".attendance_page", slug=rnd.slug, key=meeting.key))


# --- certificates of attendance ----------------------------------------------------------------


def _pdf_response(data: bytes | None, stem: str) -> Response:
    if data is None:
        abort(404)
    return download_response(
        data, download_name(stem, "pdf"), "application/pdf", cache="private, no-store"
    )


@public_bp.get("/status/<token>/certificate.pdf")
@by_token(application_for_status_token)
def own_certificate(application: Application, token: str):
    """The participant's certificate, once they attended a meeting; 404 before."""
    data = certificates.certificate_pdf([application], "Teilnahmebescheinigung")
    return _pdf_response(data, f"teilnahmebescheinigung-{application.round.slug}")


@bp.get("/applications/<int:application_id>/certificate.pdf")
@organizer_required
def certificate(application_id: int):
    application = application_or_404(application_id)
    data = certificates.certificate_pdf([application], "Teilnahmebescheinigung")
    return _pdf_response(data, f"teilnahmebescheinigung-{application.round.slug}-{application.id}")


@bp.get("/rounds/<slug>/certificates.pdf")
@organizer_required
def round_certificates(slug: str):
    """All certificates of a round in one PDF, one page each (for printing and signing)."""
    rnd = round_or_404(slug)
    people = certificates.participants_with_certificates(rnd)
    data = certificates.certificate_pdf(people, f"Teilnahmebescheinigungen {rnd.title}")
    return _pdf_response(data, f"teilnahmebescheinigungen-{rnd.slug}")


# --- the applicant edits the application ------------------------------------------------------


@public_bp.route("/status/<token>/edit", methods=["GET", "POST"])
@by_token(application_for_status_token)
def edit_application(application: Application, token: str):
    """While ``submitted`` or ``waitlisted``: change contact, organisation, texts, and state,
    role and body type (with the round's rules). Other statuses: back to the status page."""
    status_page = url_for("registration.status", token=token)
    if not edits.can_edit(application):
        flash(_("In diesem Stand lässt sich die Bewerbung nicht mehr ändern."), "warning")
        return redirect(status_page)
    form = EditApplicationForm(obj=application if request.method == "GET" else None)
    if request.method == "POST":
        if form.validate_on_submit():
            values = {name: getattr(form, name).data or "" for name in EDITABLE_FIELDS}
            result = edits.edit_application(application, values)
            if result.outcome == "ineligible":
                db.session.rollback()
                for failure in result.failures:
                    getattr(form, failure.rule).errors.append(failure.message)
            elif result.outcome == "refused":
                db.session.rollback()
                flash(_("In diesem Stand lässt sich die Bewerbung nicht mehr ändern."), "warning")
                return redirect(status_page)
            else:
                db.session.commit()
                if result.outcome == "changed":
                    flash(_("Ihre Änderungen sind gespeichert."), "success")
                else:
                    flash(_("Es gab nichts zu ändern."), "info")
                return redirect(status_page)
        db.session.rollback()
        return render_template(
            "registration/edit.html", application=application, form=form, token=token
        ), 422
    return render_template(
        "registration/edit.html", application=application, form=form, token=token
    )
