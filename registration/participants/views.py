"""Organizer pages for running a round: messages to its participants."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from forum.auth import organizer_required, round_or_404
from forum.extensions import db

from . import messages
from .forms import MessageForm

bp = Blueprint("participants", __name__, url_prefix="/admin")


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
    return _messages_page(rnd, MessageForm(formdata=None))


@bp.post("/rounds/<slug>/messages")
@organizer_required
def compose(slug: str):
    """One form, three buttons (``action``): ``preview``, ``test`` (to yourself), ``send``."""
    rnd = round_or_404(slug)
    form = MessageForm()
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
    sent = messages.send_round_message(
        rnd, form.audience.data, subject, body, sender=current_user.email
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
