"""The admins' privacy page: what the service stores about one address (on the page and as a
JSON download) and its erasure on request. Admins only: it looks across all forums."""

from __future__ import annotations

import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from . import audit
from .auth import admin_required
from .csvdownload import download_name, download_response
from .extensions import db
from .form_limits import BoundedForm, clean
from .privacy import address_hash, erase_person, export_person

bp = Blueprint("privacy_admin", __name__, url_prefix="/admin/privacy")

REQUIRED = _l("Bitte füllen Sie dieses Feld aus.")


class LookupForm(BoundedForm):
    class Meta:
        csrf = False  # a GET search that changes nothing

    email = StringField(
        _l("E-Mail-Adresse"), filters=[clean], validators=[DataRequired(REQUIRED), Length(max=254)]
    )


class EraseForm(BoundedForm):
    email = HiddenField(filters=[clean], validators=[DataRequired(REQUIRED), Length(max=254)])
    reason = TextAreaField(
        _l("Anlass der Löschung (steht im Verlauf der Bewerbungen; ohne personenbezogene Daten)"),
        filters=[clean],
        validators=[DataRequired(REQUIRED), Length(max=500)],
    )
    confirm = BooleanField(
        _l(
            "Ich habe geprüft, dass die Person die Löschung verlangt hat. Die Löschung lässt sich "
            "nicht rückgängig machen."
        ),
        validators=[InputRequired(_l("Bitte bestätigen Sie die Löschung."))],
    )


def _page(lookup: LookupForm, erase: EraseForm | None = None, status: int = 200):
    export = None
    if lookup.email.data and not lookup.errors:
        export = export_person(lookup.email.data)
        if erase is None:
            erase = EraseForm(formdata=None, email=export["email"])
    return render_template(
        "admin/privacy.html", lookup=lookup, export=export, erase_form=erase
    ), status


@bp.get("")
@admin_required
def index():
    lookup = LookupForm(request.args)
    if request.args.get("email") is not None:
        lookup.validate()
    return _page(lookup)


@bp.get("/export.json")
@admin_required
def export_json():
    export = export_person(request.args.get("email", "")[:254])
    audit.record_read("privacy_export", "address " + address_hash(export["email"]))
    return download_response(
        json.dumps(export, ensure_ascii=False, indent=2),
        download_name("auskunft-" + export["email"], "json"),
        "application/json",
    )


@bp.post("/erase")
@admin_required
def erase():
    form = EraseForm()
    if not form.validate_on_submit():
        db.session.rollback()
        lookup = LookupForm(formdata=None, email=form.email.data or "")
        return _page(lookup, form, 422)
    result = erase_person(form.email.data, form.reason.data, by=current_user.email)
    if result.total == 0:
        db.session.rollback()
        flash(_("Zu dieser Adresse ist nichts gespeichert. Es wurde nichts geändert."), "info")
    else:
        audit.record(
            "privacy_erase",
            "address " + address_hash(result.key),
            ", ".join(f"{k}: {v}" for k, v in sorted(result.counts.items())),
        )
        db.session.commit()
        flash(
            _(
                "Daten gelöscht. Bewerbungen anonymisiert: %(applications)d, "
                "Newsletter-Einträge gelöscht: %(newsletter)d, E-Mails gelöscht: %(outbox)d.",
                applications=result.counts.get("applications", 0),
                newsletter=result.counts.get("newsletter", 0),
                outbox=result.counts.get("outbox", 0),
            ),
            "success",
        )
    return redirect(url_for(".index", email=result.key))
