"""Administration: accounts (list, disable) and the audit log for auditors (R-51, R-53, R-55)."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext

from dispatch_ui.flashes import flash_refusal
from dispatch_ui.formatting import format_phone
from dispatch_ui.security import audit_read, reads_personal_data, requires
from tgd.db.models.users import User
from tgd.domain.errors import DomainError
from tgd.http import current_platform, db_session
from tgd.services import audit, auth, operators, users
from tgd.services.auth import CONSOLE_ROLES
from tgd.services.policy import Permission

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE = 200


@bp.get("/")
@requires(Permission.USER_ADMIN)
def index() -> Any:
    """List the accounts."""
    accounts = users.list_users(db_session())
    return render_template("admin/index.html", accounts=accounts, console_roles=CONSOLE_ROLES)


@bp.post("/utilisateurs/<int:user_id>/ligne-audio")
@requires(Permission.USER_ADMIN)
def audio_line(user_id: int) -> Any:
    """R-24d: set (or clear) the audio line dialled when this operator claims an alert."""
    account = operators.get_console_account(db_session(), user_id)
    try:
        value = operators.set_audio_line(
            db_session(),
            account,
            request.form.get("line", ""),
            actor=f"user:{g.user.id}",
            clock=current_platform().clock,
        )
    except DomainError as refused:
        flash_refusal(refused)
    else:
        g.audited = True
        flash(
            gettext("Ligne audio de « %(u)s » : %(line)s", u=account.username, line=_shown(value)),
            "success",
        )
    return redirect(url_for("admin.index"))


def _shown(line: str | None) -> str:
    """An audio line as the flash shows it: formatted, or "aucune"."""
    return format_phone(line) if line else gettext("aucune")


@bp.post("/utilisateurs/<int:user_id>/desactiver")
@requires(Permission.USER_ADMIN)
def disable(user_id: int) -> Any:
    """Disable an account and end its sessions at once (E-08)."""
    account = db_session().get(User, user_id)
    if account is None:
        abort(404)
    if account.id == g.user.id:
        flash(gettext("Vous ne pouvez pas désactiver votre propre compte."), "error")
        return redirect(url_for("admin.index"))
    auth.disable_user(db_session(), account, by=g.user, clock=current_platform().clock)
    flash(gettext("Compte « %(u)s » désactivé.", u=account.username), "success")
    return redirect(url_for("admin.index"))


@bp.get("/audit")
@requires(Permission.AUDIT_READ)
@reads_personal_data
def audit_log() -> Any:
    """Show the latest audit entries and the state of the chain."""
    platform = current_platform()
    session = db_session()
    anchor = platform.settings.audit_anchor_path
    with contextlib.suppress(audit.AuditChainBroken):  # the verification below says why
        audit.seal(platform.engine, anchor_path=anchor, anchor_copy=platform.anchor_copy)
    report = audit.verify(session, anchor_path=anchor, clock=platform.clock)
    entries = audit.latest_entries(session, limit=AUDIT_PAGE)
    audit_read("audit.read", details={"entries": len(entries)})
    return render_template("admin/audit.html", entries=entries, report=report)


def init_app(app: Flask) -> None:
    """Register the admin blueprint."""
    app.register_blueprint(bp)
