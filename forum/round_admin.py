"""Organizer pages to create and edit forums (admins), rounds and their meetings (organizers of
the forum), and to copy a round as the start of the next one.

The forms are drawn from the forum file's own field lists (``FORUM_FIELDS``, ``ROUND_FIELDS``,
``MEETING_FIELDS`` in :mod:`forum.loader`): every key is a form field of the same name
(meetings as ``meetings-<n>-<key>``), rendered and parsed by its kind. What a page posts becomes
the same dict a TOML table would give and goes through :func:`validate_round` and
:func:`apply_round`, so the page and the file share one validation and one set of rules (seats
not below those held, seat holders told of moved meetings, new seats to the waitlist). A key
another module adds to those lists appears here by itself; a new kind of value needs a parser
in :data:`PARSERS` and a widget in ``templates/admin/_spec_fields.html``. Times are entered and
shown in Europe/Berlin.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from . import audit
from .auth import admin_required, organizer_required, require_forum, round_or_404
from .codes import BODY_TYPES, ROLES, STATES
from .extensions import db
from .form_limits import BoundedForm
from .loader import (
    FORUM_FIELDS,
    MEETING_FIELDS,
    MISSING,
    ROUND_DEFAULTS,
    ROUND_FIELDS,
    Field,
    ForumFileError,
    apply_round,
    check_value,
    validate_forum,
    validate_round,
)
from .models import Forum, Round

bp = Blueprint("rounds_admin", __name__, url_prefix="/admin")

ZONE = ZoneInfo("Europe/Berlin")
FORM_TIME = "%Y-%m-%dT%H:%M"
EXTRA_MEETING_ROWS = 2

CHOICE_LABELS: dict[str, dict[str, Any]] = {
    "admission": {
        "review": _l("nach Auswahl durch das Organisationsteam"),
        "first_come": _l("nach Eingang"),
    },
}

#: Meeting keys edited on the meeting's own page, not in the round's form.
MEETING_FORM_SKIP = ("agenda", "documentation")


def label(key: str):
    """The label of a key of the forum file (next to the key in :mod:`forum.loader`); a key
    without one is shown by its name."""
    for fields in (FORUM_FIELDS, ROUND_FIELDS, MEETING_FIELDS):
        if key in fields and fields[key].label is not None:
            return fields[key].label
    return key


class FormError(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- form values -> the dict a TOML table would give -------------------------------------------


def _parse_int(value: str, field: Field) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise FormError(_("erwartet eine ganze Zahl, nicht %(value)s", value=repr(value))) from None


def _parse_datetime(value: str, field: Field) -> datetime:
    try:
        naive = datetime.strptime(value.strip()[:16], FORM_TIME)
    except ValueError:
        raise FormError(_("erwartet Datum und Uhrzeit, z. B. 2027-03-10T10:00")) from None
    return naive.replace(tzinfo=ZONE)


def _parse_days(value: str, field: Field) -> list[int]:
    parts = [p for p in re.split(r"[,;\s]+", value.strip()) if p]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise FormError(_("erwartet ganze Zahlen von Tagen, z. B. 7, 1")) from None


def _parse_labels(value: str, field: Field) -> list[str]:
    """One name a line (e.g. review criteria); empty lines are dropped."""
    return [line.strip() for line in value.splitlines() if line.strip()]


def _parse_text(value: str, field: Field) -> str:
    return value.replace("\r\n", "\n")


#: How a kind of value is read from a form field (a string).
PARSERS: dict[str, Callable[[str, Field], Any]] = {
    "str": lambda v, f: v,
    "slug": lambda v, f: v,
    "text": _parse_text,
    "choice": lambda v, f: v,
    "int": _parse_int,
    "datetime": _parse_datetime,
    "days": _parse_days,
    "labels": _parse_labels,
}


def form_to_table(
    form: MultiDict, fields: dict[str, Field], prefix: str = "", skip=()
) -> tuple[dict[str, Any], dict[str, str]]:
    """One table from the form: each key by its kind. Returns the values and the errors of
    values that could not be read (by form field name)."""
    table: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, field in fields.items():
        if field.kind == "meetings" or key in skip:
            continue
        name = prefix + key
        if field.kind == "bool":
            table[key] = name in form
            continue
        if field.kind == "codes":
            table[key] = form.getlist(name)
            continue
        value = form.get(name, "")
        if value.strip() == "" and field.kind not in ("text", "days", "labels"):
            continue  # not given: the file's default (or "missing" for a required key)
        try:
            table[key] = PARSERS.get(field.kind, PARSERS["str"])(value, field)
        except FormError as exc:
            errors[name] = exc.message
    return table, errors


def meeting_rows(form: MultiDict) -> list[int]:
    numbers = set()
    for name in form:
        m = re.fullmatch(r"meetings-(\d{1,3})-\w+", name)
        if m:
            numbers.add(int(m[1]))
    return sorted(numbers)


def round_from_form(form: MultiDict) -> tuple[dict[str, Any], dict[str, str], list[int]]:
    """The round's table with its meetings; rows left empty or marked for removal are left out.
    Returns the table, read errors, and the form row number of each meeting in the table."""
    table, errors = form_to_table(form, ROUND_FIELDS)
    meetings: list[dict[str, Any]] = []
    rows: list[int] = []
    for n in meeting_rows(form):
        prefix = f"meetings-{n}-"
        if f"{prefix}remove" in form:
            continue
        filled = [
            k
            for k in MEETING_FIELDS
            if k not in ("key", "cancelled") and form.get(prefix + k, "").strip()
        ]
        if not filled:
            continue
        meeting, row_errors = form_to_table(form, MEETING_FIELDS, prefix, MEETING_FORM_SKIP)
        errors.update(row_errors)
        meetings.append(meeting)
        rows.append(n)
    # New rows get the first free key (m1, m2, …), not one another row already has.
    taken = {m["key"] for m in meetings if m.get("key")}
    counter = 1
    for meeting in meetings:
        if not meeting.get("key"):
            while f"m{counter}" in taken:
                counter += 1
            meeting["key"] = f"m{counter}"
            taken.add(meeting["key"])
    table["meetings"] = meetings
    return table, errors, rows


def key_errors(
    table: dict[str, Any], fields: dict[str, Field], where: str, prefix: str = ""
) -> dict[str, str]:
    """Every key of one table checked on its own, as the forum file checks it, so that the page
    shows all bad values at once (:func:`validate_round` stops at the first). By form field
    name; the rules between keys (closes after opens, limits within seats) come after."""
    errors: dict[str, str] = {}
    for key, field in fields.items():
        if field.kind == "meetings" or key in MEETING_FORM_SKIP:
            continue
        if key not in table:
            if field.required:
                errors[prefix + key] = str(MISSING)
            continue
        try:
            check_value(where, fields, key, table[key])
        except ForumFileError as exc:
            errors[prefix + key] = exc.message
    return errors


def round_key_errors(table: dict[str, Any], rows: list[int]) -> dict[str, str]:
    """:func:`key_errors` of the round and of each meeting row."""
    errors = key_errors(table, ROUND_FIELDS, "round")
    for row, meeting in zip(rows, table["meetings"], strict=True):
        errors.update(key_errors(meeting, MEETING_FIELDS, "meeting", f"meetings-{row}-"))
    return errors


def field_name_for(where: str, rows: list[int]) -> str:
    """``round.meetings[2].venue`` -> ``meetings-<row>-venue``; ``round.seats`` -> ``seats``."""
    m = re.search(r"meetings\[(\d+)\](?:\.(\w+))?$", where)
    if m:
        index = int(m[1]) - 1
        row = rows[index] if index < len(rows) else index + 1
        return f"meetings-{row}-{m[2] or 'title'}"
    return where.rsplit(".", 1)[-1]


# --- model -> form values ----------------------------------------------------------------------


def _display(value: Any, field: Field) -> Any:
    if value is None:
        return ""
    if field.kind == "datetime":
        return value.astimezone(ZONE).strftime(FORM_TIME)
    if field.kind == "days":
        return ", ".join(str(d) for d in value)
    if field.kind == "labels":
        return "\n".join(value)
    if field.kind in ("bool", "codes"):
        return value
    return str(value)


def display_values(obj: Any, fields: dict[str, Field], prefix: str = "") -> dict[str, Any]:
    return {
        prefix + key: _display(getattr(obj, key, None), field)
        for key, field in fields.items()
        if field.kind != "meetings"
    }


def round_display(rnd: Round | None, shift: timedelta = timedelta(0)) -> dict[str, Any]:
    """Form values of a round (or the defaults for a new one); ``shift`` moves every time (a
    copy as the start of the next round)."""
    if rnd is None:
        values = {
            k: _display(v, ROUND_FIELDS[k])
            for k, v in ROUND_DEFAULTS.items()
            if k in ROUND_FIELDS and k != "meetings"
        }
        return values | {"meetings": []}
    values = display_values(rnd, ROUND_FIELDS)
    for key in ("opens", "closes"):
        # Shifted in Berlin's wall-clock time: 10:00 stays 10:00 across summer time.
        values[key] = _display(getattr(rnd, key).astimezone(ZONE) + shift, ROUND_FIELDS[key])
    meetings = []
    for meeting in sorted(rnd.meetings, key=lambda m: (m.position, m.id)):
        if shift and meeting.cancelled:
            continue
        row = display_values(meeting, MEETING_FIELDS)
        for key in ("starts", "ends"):
            row[key] = _display(getattr(meeting, key).astimezone(ZONE) + shift, MEETING_FIELDS[key])
        meetings.append(row)
    values["meetings"] = meetings
    return values


def posted_display(form: MultiDict) -> dict[str, Any]:
    """What was posted, to show again with the errors."""
    values: dict[str, Any] = {}
    for key, field in ROUND_FIELDS.items():
        if field.kind == "codes":
            values[key] = form.getlist(key)
        elif field.kind == "bool":
            values[key] = key in form
        elif field.kind != "meetings":
            values[key] = form.get(key, "")
    meetings = []
    for n in meeting_rows(form):
        row = {}
        for key, field in MEETING_FIELDS.items():
            name = f"meetings-{n}-{key}"
            row[key] = (name in form) if field.kind == "bool" else form.get(name, "")
        row["remove"] = f"meetings-{n}-remove" in form
        meetings.append(row)
    values["meetings"] = meetings
    return values


# --- pages -------------------------------------------------------------------------------------


class CsrfForm(BoundedForm):
    """The CSRF token only; the fields come from the spec."""


def _choices(key: str, field: Field) -> list[tuple[str, Any]]:
    from .codes import label as code_label

    if field.kind == "choice":
        names = CHOICE_LABELS.get(key, {})
        return [(c, names.get(c, c)) for c in field.choices or ()]
    table = {"states": STATES, "roles": ROLES, "body_types": BODY_TYPES}.get(key)
    return [(c, code_label(table, c) if table else c) for c in field.choices or ()]


def _render_round(forum: Forum, rnd: Round | None, values, errors, status=200, action=""):
    rows = values.get("meetings", [])
    extra: list[dict[str, Any]] = [{} for _ in range(EXTRA_MEETING_ROWS)]
    return render_template(
        "admin/round_edit.html",
        forum=forum,
        round=rnd,
        values=values,
        errors=errors,
        meetings=list(rows) + extra,
        round_fields=[(k, f) for k, f in ROUND_FIELDS.items() if f.kind != "meetings"],
        meeting_fields=[(k, f) for k, f in MEETING_FIELDS.items() if k not in MEETING_FORM_SKIP],
        label=label,
        choices=_choices,
        form=CsrfForm(formdata=None),
        action=action,
    ), status


def _save_round(forum: Forum, rnd: Round | None):
    """Validate and apply the posted round (new if ``rnd`` is None)."""
    if not CsrfForm().validate_on_submit():
        abort(400)
    table, errors, rows = round_from_form(request.form)
    if rnd is not None:
        table["slug"] = rnd.slug  # the slug of an existing round does not change
    elif table.get("slug") and db.session.scalar(
        select(Round.id).where(Round.slug == table["slug"])
    ):
        errors["slug"] = _("gehört schon einer anderen Runde")
    errors = {**round_key_errors(table, rows), **errors}
    if not errors:
        try:
            values = validate_round("round", table)
            result = apply_round(forum, values, "round")
        except ForumFileError as exc:
            db.session.rollback()
            errors[field_name_for(exc.where, rows)] = exc.message
        else:
            audit.record(
                "round_created" if rnd is None else "round_changed",
                f"round {result.round.slug}",
                ", ".join(sorted(table)) if rnd is None else "",
            )
            db.session.commit()
            flash(_("Die Runde „%(title)s“ ist gespeichert.", title=result.round.title), "success")
            if result.notified:
                flash(
                    _(
                        "%(n)d Mitteilungen über geänderte Treffen gehen an die "
                        "Platzinhaber*innen.",
                        n=result.notified,
                    ),
                    "info",
                )
            if result.promoted:
                flash(
                    _("%(n)d neue Plätze wurden der Warteliste angeboten.", n=result.promoted),
                    "info",
                )
            return redirect(url_for("review.round_dashboard", slug=result.round.slug))
    db.session.rollback()
    return _render_round(forum, rnd, posted_display(request.form), errors, 400)


@bp.route("/rounds/<slug>/edit", methods=["GET", "POST"])
@organizer_required
def edit_round(slug: str):
    rnd = round_or_404(slug)
    if request.method == "POST":
        return _save_round(rnd.forum, rnd)
    return _render_round(rnd.forum, rnd, round_display(rnd), {})


def _forum_or_404(slug: str) -> Forum:
    forum = db.session.scalar(select(Forum).where(Forum.slug == slug))
    if forum is None:
        abort(404)
    require_forum(forum.id)
    return forum


@bp.route("/forums/<slug>/rounds/new", methods=["GET", "POST"])
@organizer_required
def new_round(slug: str):
    """A new round; ``?copy=<round slug>&weeks=N`` starts from a copy of that round with every
    date N weeks later (the next "Staffel")."""
    forum = _forum_or_404(slug)
    if request.method == "POST":
        return _save_round(forum, None)
    source = None
    copy = request.args.get("copy", "")
    if copy:
        source = db.session.scalar(select(Round).where(Round.slug == copy))
        if source is None or source.forum_id != forum.id:
            abort(404)
    try:
        weeks = max(0, min(int(request.args.get("weeks", "52")), 520))
    except ValueError:
        weeks = 52
    values = round_display(source, timedelta(weeks=weeks))
    if source is not None:
        values["slug"] = ""
        values["title"] = ""
    return _render_round(forum, None, values, {}, action=copy)


def _render_forum(forum: Forum | None, values, errors, status=200):
    return render_template(
        "admin/forum_edit.html",
        forum=forum,
        values=values,
        errors=errors,
        fields=list(FORUM_FIELDS.items()),
        label=label,
        form=CsrfForm(formdata=None),
    ), status


def _save_forum(forum: Forum | None):
    if not CsrfForm().validate_on_submit():
        abort(400)
    table, errors = form_to_table(request.form, FORUM_FIELDS)
    if forum is not None:
        table["slug"] = forum.slug
    elif table.get("slug") and db.session.scalar(
        select(Forum.id).where(Forum.slug == table["slug"])
    ):
        errors["slug"] = _("gehört schon einem anderen Forum")
    errors = {**key_errors(table, FORUM_FIELDS, "forum"), **errors}
    if not errors:
        try:
            values = validate_forum(table)
        except ForumFileError as exc:
            errors[exc.where.rsplit(".", 1)[-1]] = exc.message
        else:
            if forum is None:
                forum = Forum(**{"summary": "", "description": "", **values})
                db.session.add(forum)
            else:
                for key, value in values.items():
                    setattr(forum, key, value)
            audit.record("forum_saved", f"forum {forum.slug}")
            db.session.commit()
            flash(_("Das Forum „%(title)s“ ist gespeichert.", title=forum.title), "success")
            return redirect(url_for("auth.home"))
    db.session.rollback()
    values = {k: request.form.get(k, "") for k in FORUM_FIELDS}
    return _render_forum(forum, values, errors, 400)


@bp.route("/forums/new", methods=["GET", "POST"])
@admin_required
def new_forum():
    if request.method == "POST":
        return _save_forum(None)
    return _render_forum(None, {}, {})


@bp.route("/forums/<slug>/edit", methods=["GET", "POST"])
@admin_required
def edit_forum(slug: str):
    forum = _forum_or_404(slug)
    if request.method == "POST":
        return _save_forum(forum)
    return _render_forum(forum, display_values(forum, FORUM_FIELDS), {})
