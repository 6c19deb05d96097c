"""Admins manage organizer accounts in the browser: create, assign forums, make admin, disable
and enable, set a new password. Disabling or a new password ends the account's sessions
(``session_token`` changes). An admin cannot disable or demote their own account, so the
service never ends up without an admin by accident."""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from .auth import (
    MIN_PASSWORD_LENGTH,
    OrganizerError,
    admin_required,
    create_organizer,
    set_password,
)
from .extensions import db
from .form_limits import BoundedForm, clean
from .models import Forum, Organizer

bp = Blueprint("organizers", __name__, url_prefix="/admin/organizers")

REQUIRED = _l("Bitte füllen Sie dieses Feld aus.")


class CheckboxListField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _password_length(form, field):
    if field.data and len(field.data) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            _l("Das Passwort braucht mindestens %(n)d Zeichen.", n=MIN_PASSWORD_LENGTH)
        )


class OrganizerForm(BoundedForm):
    name = StringField(_l("Name"), filters=[clean], validators=[Optional(), Length(max=200)])
    is_admin = BooleanField(_l("Admin (verwaltet Organisator*innen und alle Foren)"))
    forums = CheckboxListField(_l("Zugeordnete Foren"), coerce=int, validate_choice=True)

    def set_forum_choices(self) -> None:
        self.forums.choices = [
            SelectChoice(f.id, f.title)
            for f in db.session.scalars(select(Forum).order_by(Forum.title))
        ]


class NewOrganizerForm(OrganizerForm):
    email = EmailField(
        _l("E-Mail-Adresse"), filters=[clean], validators=[DataRequired(REQUIRED), Length(max=254)]
    )
    password = PasswordField(
        _l("Erstes Passwort"),
        validators=[DataRequired(REQUIRED), Length(max=1000), _password_length],
    )

    def validate_email(self, field):
        from email_validator import EmailNotValidError, validate_email

        try:
            field.data = validate_email(field.data or "", check_deliverability=False).normalized
        except EmailNotValidError:
            raise ValidationError(_l("Bitte geben Sie eine gültige E-Mail-Adresse an.")) from None


class PasswordForm(BoundedForm):
    password = PasswordField(
        _l("Neues Passwort"),
        validators=[DataRequired(REQUIRED), Length(max=1000), _password_length],
    )


class ButtonForm(BoundedForm):
    """A button only (disable / enable)."""


def _organizer(organizer_id: int) -> Organizer:
    organizer = db.session.get(Organizer, organizer_id)
    if organizer is None:
        abort(404)
    return organizer


def _selected_forums(ids: list[int]) -> list[Forum]:
    if not ids:
        return []
    return list(db.session.scalars(select(Forum).where(Forum.id.in_(ids)).order_by(Forum.title)))


@bp.get("/")
@admin_required
def index():
    organizers = db.session.scalars(select(Organizer).order_by(Organizer.email)).all()
    return render_template("admin/organizers/index.html", organizers=organizers)


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new():
    form = NewOrganizerForm()
    form.set_forum_choices()
    if form.validate_on_submit():
        try:
            organizer = create_organizer(
                form.email.data,
                form.password.data,
                is_admin=form.is_admin.data,
                name=form.name.data,
            )
        except OrganizerError as exc:
            db.session.rollback()
            message = str(exc)
            if "exists" in message:
                form.email.errors.append(_("Diese E-Mail-Adresse hat bereits ein Konto."))
            elif "e-mail" in message:
                form.email.errors.append(_("Bitte geben Sie eine gültige E-Mail-Adresse an."))
            else:
                form.password.errors.append(message)
            return render_template("admin/organizers/new.html", form=form), 422
        organizer.forums = _selected_forums(form.forums.data)
        db.session.commit()
        flash(_("Das Konto %(email)s ist angelegt.", email=organizer.email), "success")
        return redirect(url_for(".edit", organizer_id=organizer.id))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/organizers/new.html", form=form), status


def _edit_page(organizer: Organizer, form=None, password_form=None, status: int = 200):
    if form is None:
        form = OrganizerForm(formdata=None, obj=organizer)
        form.forums.data = [f.id for f in organizer.forums]
    form.set_forum_choices()
    return render_template(
        "admin/organizers/edit.html",
        organizer=organizer,
        form=form,
        password_form=password_form or PasswordForm(formdata=None),
        button_form=ButtonForm(),
        is_self=organizer.id == current_user.id,
    ), status


@bp.get("/<int:organizer_id>")
@admin_required
def edit(organizer_id: int):
    return _edit_page(_organizer(organizer_id))


@bp.post("/<int:organizer_id>")
@admin_required
def update(organizer_id: int):
    organizer = _organizer(organizer_id)
    form = OrganizerForm()
    form.set_forum_choices()
    if not form.validate_on_submit():
        db.session.rollback()
        return _edit_page(organizer, form=form, status=422)
    if organizer.id == current_user.id and not form.is_admin.data:
        db.session.rollback()
        form.is_admin.errors.append(_("Sie können sich nicht selbst die Admin-Rechte entziehen."))
        return _edit_page(organizer, form=form, status=422)
    organizer.name = form.name.data or ""
    organizer.is_admin = form.is_admin.data
    organizer.forums = _selected_forums(form.forums.data)
    db.session.commit()
    flash(_("Gespeichert."), "success")
    return redirect(url_for(".edit", organizer_id=organizer.id))


@bp.post("/<int:organizer_id>/password")
@admin_required
def password(organizer_id: int):
    organizer = _organizer(organizer_id)
    form = PasswordForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _edit_page(organizer, password_form=form, status=422)
    set_password(organizer, form.password.data)
    db.session.commit()
    flash(
        _(
            "Neues Passwort gesetzt; bestehende Sitzungen von %(email)s sind beendet.",
            email=organizer.email,
        ),
        "success",
    )
    if organizer.id == current_user.id:
        return redirect(url_for("auth.login_page"))
    return redirect(url_for(".edit", organizer_id=organizer.id))


@bp.post("/<int:organizer_id>/active")
@admin_required
def toggle_active(organizer_id: int):
    organizer = _organizer(organizer_id)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    if organizer.id == current_user.id:
        db.session.rollback()
        flash(_("Sie können Ihr eigenes Konto nicht deaktivieren."), "error")
        return redirect(url_for(".edit", organizer_id=organizer.id))
    organizer.active = not organizer.active
    organizer.session_token = secrets.token_hex(16)  # ends the account's sessions
    db.session.commit()
    if organizer.active:
        flash(_("Das Konto %(email)s ist wieder aktiv.", email=organizer.email), "success")
    else:
        flash(
            _(
                "Das Konto %(email)s ist deaktiviert; es kann sich nicht mehr anmelden.",
                email=organizer.email,
            ),
            "success",
        )
    return redirect(url_for(".edit", organizer_id=organizer.id))
