"""Login (password, then TOTP code), TOTP enrolment by QR code, logout (R-50, E-08)."""

from __future__ import annotations

import io
from typing import Any

import qrcode
import qrcode.image.svg
from flask import Blueprint, Flask, flash, g, redirect, render_template, session, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from dispatch_ui.security import (
    SESSION_KEY,
    audit_refusal,
    client_address,
    public,
)
from tgd.db.models.users import User
from tgd.http import commit, current_platform, db_session, limiter, request_reader
from tgd.services import auth, users

bp = Blueprint("auth", __name__, url_prefix="/connexion")


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(_l("Identifiant"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Mot de passe"), validators=[DataRequired(), Length(max=256)])


class CodeForm(FlaskForm):
    """The six digits of the authenticator app."""

    code = StringField(
        _l("Code à 6 chiffres"),
        validators=[
            DataRequired(),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Saisissez les 6 chiffres.")),
        ],
    )


def _login_limit() -> str:
    security = current_platform().settings.security
    return f"{security.login_attempts_per_minute}/minute;{security.login_attempts_per_hour}/hour"


@bp.route("", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Any:
    """First step: the password."""
    if g.get("user") is not None:
        return redirect(url_for("web.home"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    platform = current_platform()
    # argon2 runs in a reading transaction: no one waits on the write lock meanwhile.
    check = auth.verify_password(
        request_reader(),
        form.username.data or "",
        form.password.data or "",
        hasher=platform.hasher,
        clock=platform.clock,
    )
    try:
        user = auth.record_password_check(db_session(), check, clock=platform.clock)
    except auth.LoginRefused as refused:
        return _login_refused(form, refused)
    return _password_accepted(user)


def _password_accepted(user: User) -> Any:
    """Open the session (audited by the service) and send the user on: home, or the TOTP step."""
    if _open_session(user):
        return redirect(url_for("web.home"))
    if user.totp_enrolled_at is None:
        return redirect(url_for("auth.enrol"))
    return redirect(url_for("auth.second_factor"))


def _login_refused(form: LoginForm, refused: auth.LoginRefused) -> Any:
    """Keep the failure count, audit the refusal, answer 401 without saying what was wrong."""
    commit()  # keep the failure count even though we answer 401
    audit_refusal(
        "login.failed",
        object_type="user" if refused.user_id else None,
        object_id=refused.user_id,
        details={"reason": refused.reason},
    )
    flash(gettext(refused.template), "error")
    return render_template("auth/login.html", form=form), 401


def _open_session(user: User) -> bool:
    """Open the user's session in a fresh cookie (E-08); tell whether it is complete already."""
    platform = current_platform()
    token, record = auth.open_session(
        db_session(),
        user,
        source=client_address(),
        require_totp=platform.settings.security.require_totp,
        clock=platform.clock,
    )
    session.clear()  # E-08: a fresh session at login
    session[SESSION_KEY] = token
    session.permanent = True
    return record.second_factor_at is not None


@bp.route("/code", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def second_factor() -> Any:
    """Second step: the TOTP code."""
    pending = g.get("pending")
    if pending is None:
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("auth/code.html", form=form)
    return _check_code(form, "auth/code.html")


@bp.route("/enrolement", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def enrol() -> Any:
    """First login of an account: show the QR code, confirm with a first code."""
    pending = g.get("pending")
    if pending is None or pending.user.totp_enrolled_at is not None:
        return redirect(url_for("auth.login"))
    platform = current_platform()
    secret = users.totp_secret(db_session(), pending.user, cipher=platform.cipher) or ""
    uri = users.provisioning_uri(
        pending.user, secret, issuer=platform.settings.security.totp_issuer
    )
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("auth/enrol.html", form=form, qr_svg=_qr_svg(uri), secret=secret)
    return _check_code(form, "auth/enrol.html", qr_svg=_qr_svg(uri), secret=secret)


def _check_code(form: CodeForm, template: str, **context: Any) -> Any:
    platform = current_platform()
    pending = g.pending
    try:
        auth.verify_second_factor(
            db_session(),
            pending,
            form.code.data or "",
            cipher=platform.cipher,
            clock=platform.clock,
        )
    except auth.LoginRefused as refused:
        commit()
        audit_refusal(
            "login.code_failed",
            object_type="user",
            object_id=pending.user_id,
            details={"reason": refused.reason},
        )
        flash(gettext(refused.template), "error")
        return render_template(template, form=form, **context), 401
    return redirect(url_for("web.home"))


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


@bp.post("/deconnexion")
@public
def logout() -> Response:
    """End the session (the CSRF token protects this form)."""
    record = g.get("user_session") or g.get("pending")
    if record is not None:
        auth.logout(db_session(), record, clock=current_platform().clock)
    session.clear()
    flash(gettext("Vous êtes déconnecté."), "success")
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    """Register the login blueprint."""
    app.register_blueprint(bp)
