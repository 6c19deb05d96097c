"""Organizer accounts and sessions: Argon2id password hashes, Flask-Login, the login page with
rate limits per address and per account, and the ``organizer`` command group."""

from __future__ import annotations

import functools
import hashlib
import secrets
import sys
from datetime import timedelta
from enum import StrEnum
from functools import wraps
from urllib.parse import urlsplit

import click
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
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
from flask.cli import AppGroup
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import delete, func, select
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from .db import execute_dml, utcnow
from .extensions import db, limiter, login
from .form_limits import BoundedForm
from .mail import normalize_email
from .models import Forum, Organizer, OrganizerSession, OutboxMessage, Round
from .outbox import queue_mail
from .tokens import TokenInvalid, register_purposes, sign, unsign

_hasher = PasswordHasher()  # Argon2id with the library's current parameters


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so that timing tells nothing. Made
    on first use, not at import: every worker process imports this module."""
    return _hasher.hash("not-a-password-" + secrets.token_hex(8))


MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(organizer: Organizer | None, password: str) -> bool:
    if organizer is None:
        try:
            _hasher.verify(_dummy_hash(), password)
        except VerificationError:
            pass
        return False
    try:
        ok = _hasher.verify(organizer.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if ok and _hasher.check_needs_rehash(organizer.password_hash):
        organizer.password_hash = hash_password(password)
    return ok


def find_organizer(email: str) -> Organizer | None:
    return db.session.scalar(
        select(Organizer).where(func.lower(Organizer.email) == normalize_email(email))
    )


class OrganizerError(ValueError):
    pass


def create_organizer(
    email: str, password: str, is_admin: bool = False, name: str = ""
) -> Organizer:
    from email_validator import EmailNotValidError, validate_email

    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise OrganizerError(f"invalid e-mail address: {exc}") from None
    if len(password) < MIN_PASSWORD_LENGTH:
        raise OrganizerError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if find_organizer(email) is not None:
        raise OrganizerError(f"an organizer with the address {email} exists already")
    organizer = Organizer(
        email=normalize_email(email),
        name=name,
        password_hash=hash_password(password),
        is_admin=is_admin,
        session_token=secrets.token_hex(16),
    )
    db.session.add(organizer)
    return organizer


def set_password(organizer: Organizer, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise OrganizerError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    organizer.password_hash = hash_password(password)
    organizer.session_token = secrets.token_hex(16)  # ends other sessions


def end_all_sessions(organizer: Organizer) -> int:
    """Sign the organizer out on every browser (their sessions' rows go, the account token
    changes). Returns how many sessions ended; the caller commits."""
    organizer.session_token = secrets.token_hex(16)
    return execute_dml(
        delete(OrganizerSession).where(OrganizerSession.organizer_id == organizer.id)
    ).rowcount


# --- server-side sessions ----------------------------------------------------------------

SESSION_KEY = "organizer_session"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(organizer: Organizer) -> None:
    """Log in: a new session row; its key goes into the (signed) session cookie."""
    key = secrets.token_urlsafe(32)
    db.session.add(OrganizerSession(organizer_id=organizer.id, key_hash=_key_hash(key)))
    login_user(organizer)
    session[SESSION_KEY] = key


def end_session() -> None:
    """Log out this browser: its session row goes, so a copy of the cookie is worth nothing."""
    key = session.pop(SESSION_KEY, None)
    if isinstance(key, str):
        db.session.execute(
            delete(OrganizerSession).where(OrganizerSession.key_hash == _key_hash(key))
        )
    logout_user()


@login.user_loader
def load_organizer(user_id: str) -> Organizer | None:
    """The organizer of this session, if the account token still matches and the session's
    row still exists (logged out here or everywhere: it is gone). One query."""
    organizer_id, _sep, token = (user_id or "").partition(":")
    key = session.get(SESSION_KEY)
    if not organizer_id.isdigit() or not isinstance(key, str):
        return None
    organizer = db.session.scalar(
        select(Organizer)
        .join(OrganizerSession, OrganizerSession.organizer_id == Organizer.id)
        .where(
            Organizer.id == int(organizer_id),
            OrganizerSession.key_hash == _key_hash(key),
        )
    )
    if organizer is None or not organizer.active or organizer.session_token != token:
        return None
    return organizer


# --- access control ----------------------------------------------------------------------


def organizer_required(view):
    """Login required (Flask-Login); the view itself checks access to the forum it shows
    with :func:`require_forum`."""
    return login_required(view)


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def require_forum(forum_id: int) -> None:
    """404 for forums the current organizer is not assigned to: guessing URLs of other forums'
    objects shows nothing, not even that they exist."""
    if not (current_user.is_authenticated and current_user.may_manage(forum_id)):
        abort(404)


def round_or_404(slug: str) -> Round:
    """The round with this slug, if the current organizer manages its forum; else 404."""
    rnd = db.session.scalar(select(Round).where(Round.slug == slug))
    if rnd is None:
        abort(404)
    require_forum(rnd.forum_id)
    return rnd


def visible_forums_query():
    stmt = select(Forum).order_by(Forum.title)
    if not current_user.is_admin:
        stmt = stmt.where(Forum.id.in_([f.id for f in current_user.forums]))
    return stmt


# --- login page --------------------------------------------------------------------------


class LoginForm(BoundedForm):
    email = EmailField(_l("E-Mail-Adresse"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Passwort"), validators=[DataRequired(), Length(max=1000)])


bp = Blueprint("auth", __name__, url_prefix="/admin")


def _account_key() -> str:
    return "login-account:" + normalize_email(request.form.get("email", ""))[:254]


# --- device cookies (OWASP: slow down online guessing attacks with device cookies) ----------

DEVICE_COOKIE = "forum_device"


class DevicePurpose(StrEnum):
    COOKIE = "organizer-device"  # untimed: the cookie has its own lifetime


register_purposes(DevicePurpose, timed=False)


def trusted_device() -> str | None:
    """The nonce of this browser's device cookie, if it was issued to the account whose
    address is being entered (a browser that signed in to it before); else None."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 500:
        return None
    try:
        data = unsign(DevicePurpose.COOKIE, raw)
    except TokenInvalid:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("n"), str):
        return None
    if data.get("e") != normalize_email(request.form.get("email", ""))[:254]:
        return None
    return data["n"]


def _device_key() -> str:
    return "login-device:" + (trusted_device() or "")


def _set_device_cookie(response, organizer: Organizer):
    value = sign(DevicePurpose.COOKIE, {"e": organizer.email, "n": secrets.token_urlsafe(16)})
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=current_app.config["LOGIN_DEVICE_COOKIE_DAYS"] * 24 * 3600,
        path=url_for("auth.login_page"),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response


def _account_under_attack(_limit) -> None:
    """The account's limit for unknown browsers is reached: tell the organizer (once in
    ``LOGIN_ATTACK_MAIL_HOURS``). Their own browsers keep getting in."""
    organizer = find_organizer(request.form.get("email", "")[:254])
    if organizer is None or not organizer.active:
        return
    since = utcnow() - timedelta(hours=current_app.config["LOGIN_ATTACK_MAIL_HOURS"])
    warned = db.session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.recipient == organizer.email,
            OutboxMessage.template == "login_attack",
            OutboxMessage.created_at >= since,
        )
        .limit(1)
    )
    if warned is None:
        queue_mail(organizer.email, "login_attack", "de", {"email": organizer.email})
        db.session.commit()


def _safe_next(target: str | None) -> str:
    """Only a path on this site. Browsers drop tabs and newlines and read backslashes as
    slashes, so ``/<TAB>/evil.example`` or ``/\\evil.example`` would leave the site: any
    control character or backslash sends the organizer home instead."""
    if not target or any(ord(ch) < 32 or ch in "\\\x7f" for ch in target):
        return url_for("auth.home")
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return url_for("auth.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATELIMIT_ADDRESS"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATELIMIT_ACCOUNT"],
    methods=["POST"],
    key_func=_account_key,
    exempt_when=lambda: trusted_device() is not None,
    deduct_when=lambda response: response.status_code == 401,  # wrong passwords only
    on_breach=_account_under_attack,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_RATELIMIT_DEVICE"],
    methods=["POST"],
    key_func=_device_key,
    exempt_when=lambda: trusted_device() is None,
    deduct_when=lambda response: response.status_code == 401,
)
def login_page():
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = LoginForm()
    if form.validate_on_submit():
        organizer = find_organizer(form.email.data)
        if verify_password(organizer, form.password.data) and organizer.active:
            organizer.last_login_at = utcnow()
            start_session(organizer)
            db.session.commit()
            return _set_device_cookie(redirect(_safe_next(request.args.get("next"))), organizer)
        db.session.rollback()
        form.password.errors.append(_("E-Mail-Adresse oder Passwort ist falsch."))
        return render_template("admin/login.html", form=form), 401
    return render_template("admin/login.html", form=form), (
        422 if request.method == "POST" else 200
    )


@bp.post("/logout")
@login_required
def logout():
    end_session()
    db.session.commit()
    flash(_("Sie sind abgemeldet."), "info")
    return redirect(url_for("auth.login_page"))


@bp.post("/logout-everywhere")
@login_required
def logout_everywhere():
    organizer = db.session.get(Organizer, current_user.id)
    count = end_all_sessions(organizer)
    session.pop(SESSION_KEY, None)
    logout_user()
    db.session.commit()
    flash(_("Sie sind auf allen Geräten abgemeldet (%(count)d Sitzungen).", count=count), "info")
    return redirect(url_for("auth.login_page"))


@bp.get("/")
@login_required
def home():
    forums = db.session.scalars(visible_forums_query()).all()
    return render_template("admin/home.html", forums=forums)


# --- command line ------------------------------------------------------------------------

organizer_cli = AppGroup("organizer", help="Organizer accounts.")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@organizer_cli.command("create")
@click.argument("email")
@click.option("--admin", is_flag=True, help="May manage organizers and all forums.")
@click.option("--name", default="", help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--forum", "forum_slugs", multiple=True, help="Assign a forum (by slug).")
def create_command(email, admin, name, password_stdin, forum_slugs):
    """Create an organizer."""
    password = _read_password(password_stdin)
    try:
        organizer = create_organizer(email, password, is_admin=admin, name=name)
        for slug in forum_slugs:
            forum = db.session.scalar(select(Forum).where(Forum.slug == slug))
            if forum is None:
                raise OrganizerError(f"no forum with the slug {slug!r}")
            organizer.forums.append(forum)
        db.session.commit()
    except OrganizerError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc} (nothing was changed)") from None
    role = "admin" if admin else "organizer"
    click.echo(f"created {role} {organizer.email}")


@organizer_cli.command("demo")
def demo_command():
    """Create the demo admin for the development setup, once."""
    email = current_app.config["DEMO_ORGANIZER_EMAIL"]
    password = current_app.config["DEMO_ORGANIZER_PASSWORD"]
    if find_organizer(email) is None:
        create_organizer(email, password, is_admin=True, name="Demo-Admin")
        db.session.commit()
    click.echo(f"organizer login: {email} / {password}")
