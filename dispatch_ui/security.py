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

from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext

from tgd.db.models.users import UserSession
from tgd.db.writes import Priority, begin_write, write_transaction
from tgd.http import (
    current_platform,
    db_session,
    end_read,
    request_reader,
    request_writes,
    rollback,
)
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


def reads_personal_data(view: F) -> F:
    """Mark a view that shows personal data: the door's one access decorator (R-53).

    The view names what it shows with ``audit_read``; the reads are recorded together,
    as the request's user with its address, once the view has returned and before its
    page is sent. A view that fails (``abort``, an error) showed nothing and records
    nothing. A reading request records them in one short write transaction of its own;
    a writing request with its change, in its transaction, or apart when it answers an
    error (which keeps no change). ``audit_read`` outside such a view is a programming
    error, and a test walks the doors for it.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.personal_reads = []
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            g.pop("personal_reads", None)
            raise
        _record_reads(g.pop("personal_reads"), kept=response.status_code < 400)
        return response

    wrapper._tgd_reads = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def audit_read(action: str, **fields: Any) -> None:
    """Name what a ``@reads_personal_data`` view shows; it is audited when the view returns.

    Business actions are audited by the services that perform them (in their
    transaction, with the request's address: ``audit.SOURCE_KEY``); a view audits only
    what it shows.
    """
    reads = g.get("personal_reads")
    if reads is None:
        raise RuntimeError(f"audit_read({action!r}) outside a @reads_personal_data view")
    reads.append({"action": action, **fields})


def _record_reads(reads: list[dict[str, Any]], *, kept: bool) -> None:
    """Record the reads; a writing request answered with an error keeps nothing else."""
    if not reads:
        return
    platform = current_platform()
    who, source = actor(), client_address()
    if request_writes():
        if kept:
            for fields in reads:
                audit.record(db_session(), actor=who, source=source, clock=platform.clock, **fields)
            return
        rollback()  # what the app does after an error answer; the reads are kept apart
    with write_transaction(platform.sessions, priority=Priority.PEOPLE, label="audit reads") as s:
        for fields in reads:
            audit.record(s, actor=who, source=source, clock=platform.clock, **fields)


def audit_refusal(action: str, **fields: Any) -> None:
    """Record an audit entry that survives the request's refusal (the request keeps nothing).

    A writing request's own transaction is rolled back first: a second write transaction
    beside it would wait for it until the busy timeout (the write discipline).
    """
    if request_writes():
        rollback()
    _record_committed(action, **fields)


def _record_committed(action: str, **fields: Any) -> None:
    platform = current_platform()
    audit.record_committed(
        platform.sessions,
        actor=actor(),
        action=action,
        source=client_address(),
        clock=platform.clock,
        priority=Priority.PEOPLE,
        **fields,
    )


def session_policy() -> auth.SessionPolicy:
    """Return the session lifetimes of the settings (E-08)."""
    security = current_platform().settings.security
    return auth.SessionPolicy(
        idle=timedelta(minutes=security.idle_timeout_minutes),
        lifetime=timedelta(hours=security.session_lifetime_hours),
        touch_every=timedelta(seconds=security.session_touch_seconds),
    )


def load_user() -> None:
    """Resolve the session cookie to ``g.user`` (fully logged in) or ``g.pending`` (TOTP due).

    The lookup is a short read of the request's session; refreshing ``last_seen_at`` or
    ending the session is a short write of that same session, after the read and before
    the view (never a second writer beside the request's own).
    """
    g.user, g.pending = None, None
    token = session.get(SESSION_KEY)
    if not token or request.endpoint in (None, "static", "healthz", "readyz", "metrics"):
        return
    platform = current_platform()
    reader = request_reader()
    record, ended = auth.check_session(reader, token, policy=session_policy(), clock=platform.clock)
    end_read()
    if ended is not None or (
        record is not None and auth.needs_touch(record, session_policy(), platform.clock)
    ):
        begin_write(reader, priority=Priority.PEOPLE, label="session refresh")
        record, ended = auth.resolve_session(
            reader, token, policy=session_policy(), clock=platform.clock
        )
        if ended is not None:
            audit.record(
                reader,
                actor="system:sessions",
                action="session.ended",
                object_type="user",
                object_id=ended.user_id,
                source=client_address(),
                details={"reason": ended.end_reason or ""},
                clock=platform.clock,
            )
        reader.commit()
    if record is None:
        session.pop(SESSION_KEY, None)
        flash(gettext("Votre session a expiré : reconnectez-vous."), "info")
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
    platform = current_platform()
    # argon2: before the write lock
    matches = operators.password_matches(record, password, hasher=platform.hasher)
    try:
        operators.confirm_password(
            db_session(), record, matches, purpose=purpose, clock=platform.clock
        )
    except operators.PasswordRefused:
        commit()
        raise


def current_session() -> UserSession | None:
    """Return the fully logged-in session of the request, if any."""
    return cast("UserSession | None", g.get("user_session"))


def init_app(app: Flask) -> None:
    """Resolve the user before every request (the audit sealer job chains the entries)."""
    app.before_request(load_user)
