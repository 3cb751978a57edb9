"""Who is asking: the session cookie resolved to a user, and the decorators every view wears.

Every endpoint of the people's door is either public (``@public``) or
declares the roles or permission it needs (``@requires``); a test walks the
URL map and fails on any view that says neither (R-51).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask_babel import gettext

from tgd.db.models.users import User, UserSession
from tgd.db.session import write_transaction
from tgd.http import current_platform, db_session, is_safe_request, request_has_written
from tgd.services import audit, auth
from tgd.services.policy import Permission, has

F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEY = "tgd_token"


def public(view: F) -> F:
    """Mark a view as open to anonymous visitors (login, language, health)."""
    view._tgd_access = "public"  # type: ignore[attr-defined]
    return view


def requires(*permissions: Permission) -> Callable[[F], F]:
    """Let a view run only for a fully logged-in user holding every permission."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = g.get("user")
            if user is None:
                return redirect(url_for("auth.login"))
            missing = [p for p in permissions if not has(user, p)]
            if missing:
                audit_refusal("access.denied", details={"permission": missing[0].value})
                abort(403)
            return view(*args, **kwargs)

        wrapper._tgd_access = tuple(p.value for p in permissions)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def client_address() -> str:
    """Return the caller's address (Werkzeug's, or ProxyFix's when configured)."""
    return (request.remote_addr or "unknown")[:64]


def actor() -> str:
    """Return the audit actor of the current request."""
    user = g.get("user")
    return f"user:{user.id}" if user is not None else "anonymous"


def audit_here(action: str, **fields: Any) -> None:
    """Record an audit entry with the request's change (a read is audited on its own)."""
    if is_safe_request() and not request_has_written():
        # A reading request stays lock-free: its audit entry has a short transaction of its own.
        audit_refusal(action, **fields)
        return
    platform = current_platform()
    audit.record(
        db_session(),
        actor=actor(),
        action=action,
        source=client_address(),
        clock=platform.clock,
        **fields,
    )
    g.audited = True


def audit_refusal(action: str, **fields: Any) -> None:
    """Record an audit entry in its own transaction: the request itself will roll back."""
    platform = current_platform()
    audit.record_committed(
        platform.sessions,
        actor=actor(),
        action=action,
        source=client_address(),
        clock=platform.clock,
        **fields,
    )
    g.audited = True


def session_policy() -> auth.SessionPolicy:
    """Return the session lifetimes of the settings (E-08)."""
    security = current_platform().settings.security
    return auth.SessionPolicy(
        idle=timedelta(minutes=security.idle_timeout_minutes),
        lifetime=timedelta(hours=security.session_lifetime_hours),
    )


def load_user() -> None:
    """Resolve the session cookie to ``g.user`` (fully logged in) or ``g.pending`` (TOTP due)."""
    g.user, g.pending = None, None
    token = session.get(SESSION_KEY)
    if not token or request.endpoint in (None, "static", "healthz"):
        return
    platform = current_platform()
    record, ended = auth.check_session(
        db_session(), token, policy=session_policy(), clock=platform.clock
    )
    if ended is not None or (record is not None and auth.needs_touch(record, platform.clock)):
        if is_safe_request():
            with write_transaction(platform.sessions) as writer:
                record, ended = auth.resolve_session(
                    writer, token, policy=session_policy(), clock=platform.clock
                )
            if record is not None:
                record = db_session().get(UserSession, record.id)
        else:
            # The request is already the writer (begin_write): a second writing session would
            # wait for it forever on SQLite. Its own transaction keeps the bookkeeping.
            record, ended = auth.resolve_session(
                db_session(), token, policy=session_policy(), clock=platform.clock
            )
    if record is None:
        session.pop(SESSION_KEY, None)
        flash(gettext("Votre session a expiré : reconnectez-vous."), "info")
        if ended is not None:
            (audit_refusal if is_safe_request() else audit_here)(
                "session.ended",
                object_type="user",
                object_id=ended.user_id,
                details={"reason": ended.end_reason or ""},
            )
        return
    if record.second_factor_at is None:
        g.pending = record
    else:
        g.user, g.user_session = record.user, record


def reauthenticate(password: str, *, purpose: str) -> None:
    """E-08: ask for the password again before an export or a destruction.

    A wrong password raises ``PasswordRefused`` after the failure count is committed.
    """
    from tgd.http import commit
    from tgd.services import operators

    record = current_session()
    if record is None:
        abort(403)
    try:
        operators.confirm_password(
            db_session(), record, password, purpose=purpose, clock=current_platform().clock
        )
    except operators.PasswordRefused:
        commit()
        raise


def current_session() -> UserSession | None:
    """Return the fully logged-in session of the request, if any."""
    return cast("UserSession | None", g.get("user_session"))


def current_user() -> User | None:
    """Return the fully logged-in user of the request, if any."""
    return cast("User | None", g.get("user"))


def init_app(app: Flask) -> None:
    """Resolve the user before every request and seal audit entries after it."""
    app.before_request(load_user)

    @app.teardown_request
    def _seal(_error: BaseException | None) -> None:
        if g.pop("audited", False):
            platform = current_platform()
            audit.seal(platform.engine, anchor_path=platform.settings.data_dir / "audit.anchor")
