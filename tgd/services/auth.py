"""Authentication use cases (R-50, E-08): password, TOTP second factor, server-side sessions.

A login is two steps: the password opens a ``UserSession`` whose
``second_factor_at`` is empty; a valid, never-used TOTP code completes it.
Sessions live in the database (only the SHA-256 of the browser's token is
stored) so they can be ended one by one, by idle time, by absolute lifetime,
or all at once when an account is disabled. Repeated failures lock the
account for a while; unknown usernames cost the same time as known ones.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from tgd.db.models.users import User, UserSession
from tgd.domain.errors import N_, DomainError
from tgd.domain.roles import Role
from tgd.ports import Cipher, Clock, PasswordHasher
from tgd.services import audit, users
from tgd.services.policy import Permission, role_has

CONSOLE_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR})
MAX_FAILURES = 5  # then the account is locked for LOCK_MINUTES
LOCK_MINUTES = 15
TOTP_WINDOW = 1  # accept the previous and next 30-second step (clock drift)


class LoginRefused(DomainError):
    """A login step failed; the message never tells which part was wrong."""

    http_status = 401

    def __init__(self, template: str, *, reason: str, user_id: int | None = None) -> None:
        super().__init__(template)
        self.reason = reason  # for the audit log: password, locked, inactive, totp, replay
        self.user_id = user_id


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live (E-08)."""

    idle: timedelta
    lifetime: timedelta
    touch_every: timedelta = timedelta(seconds=30)  # last_seen_at is not written every request


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class PasswordCheck:
    """The verdict on a password, computed without writing (argon2 is slow on purpose)."""

    user_id: int | None
    reason: str | None  # None when accepted; else unknown_user, locked, password, inactive
    new_hash: str | None = None  # the password re-hashed at today's cost, when due


def verify_password(
    session: Session, username: str, password: str, *, hasher: PasswordHasher, clock: Clock
) -> PasswordCheck:
    """Check a password against the stored hash; read only, so no write lock is held meanwhile."""
    user = users.find_user(session, username)
    if user is None:
        hasher.dummy_verify(password)  # an unknown username costs what a known one does
        return PasswordCheck(None, "unknown_user")
    if user.locked_until is not None and user.locked_until > clock.now():
        return PasswordCheck(user.id, "locked")
    if not hasher.verify(user.password_hash, password):
        return PasswordCheck(user.id, "password")
    if not user.is_active:
        return PasswordCheck(user.id, "inactive")
    due = hasher.needs_rehash(user.password_hash)
    return PasswordCheck(user.id, None, hasher.hash(password) if due else None)


_REFUSALS = {
    "unknown_user": N_("Identifiant ou mot de passe incorrect."),
    "password": N_("Identifiant ou mot de passe incorrect."),
    "locked": N_(
        "Trop de tentatives : ce compte est bloqué quelques minutes. Réessayez plus tard."
    ),
    "inactive": N_("Ce compte est désactivé."),
}


def record_password_check(session: Session, check: PasswordCheck, *, clock: Clock) -> User:
    """Apply a verdict in a write transaction: count a failure (R-50) or return the user.

    Raises ``LoginRefused`` after recording what must be kept (the failure count).
    """
    user = (
        session.get(User, check.user_id, populate_existing=True, with_for_update=True)
        if check.user_id is not None
        else None
    )
    if check.reason is not None or user is None:
        reason = check.reason or "unknown_user"
        if reason == "password" and user is not None:
            _count_failure(user, clock.now())
            session.flush()
        raise LoginRefused(_REFUSALS[reason], reason=reason, user_id=check.user_id)
    if check.new_hash is not None:
        user.password_hash = check.new_hash
    return user


def _count_failure(user: User, now: datetime) -> None:
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= MAX_FAILURES:
        # brute force is throttled per account, whatever the address it comes from.
        user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        user.failed_logins = 0


def open_session(
    session: Session, user: User, *, source: str | None, require_totp: bool, clock: Clock
) -> tuple[str, UserSession]:
    """Open a session after the password; return the browser's token and the session.

    Audited as ``login.success`` when the password completes the login, else as
    ``login.password_ok`` (the TOTP step is due). The actor is ``anonymous``: the
    request is not authenticated yet.
    """
    token = secrets.token_urlsafe(32)
    needs_second_factor = require_totp and user.role.requires_second_factor
    record = UserSession(
        token_hash=_hash_token(token),
        user_id=user.id,
        created_at=clock.now(),
        last_seen_at=clock.now(),
        second_factor_at=None if needs_second_factor else clock.now(),
        source=source,
    )
    session.add(record)
    if not needs_second_factor:
        _login_succeeded(user, clock)
    session.flush()
    if needs_second_factor:
        _audit_login(session, "login.password_ok", user.id, clock=clock)
    else:
        _audit_login(session, "login.success", user.id, details={"factor": "password"}, clock=clock)
    return token, record


def verify_second_factor(
    session: Session, record: UserSession, code: str, *, cipher: Cipher, clock: Clock
) -> None:
    """Complete the login with a TOTP code; each code is accepted once (no replay).

    Audited as ``login.success`` (actor ``anonymous``: the request was not authenticated).
    """
    user = record.user
    secret = users.totp_secret(session, user, cipher=cipher)
    code = code.strip().replace(" ", "")
    step = _matching_step(secret, code, clock.now()) if secret and code.isdigit() else None
    if step is None:
        _count_failure(user, clock.now())
        raise LoginRefused(N_("Code de vérification incorrect."), reason="totp", user_id=user.id)
    if user.totp_last_step is not None and step <= user.totp_last_step:
        raise LoginRefused(
            N_("Ce code a déjà été utilisé : attendez le suivant."),
            reason="replay",
            user_id=user.id,
        )
    user.totp_last_step = step
    if user.totp_enrolled_at is None:
        user.totp_enrolled_at = clock.now()
    record.second_factor_at = clock.now()
    _login_succeeded(user, clock)
    session.flush()
    _audit_login(session, "login.success", user.id, details={"factor": "totp"}, clock=clock)


def _audit_login(
    session: Session,
    action: str,
    user_id: int,
    *,
    details: dict[str, str] | None = None,
    clock: Clock,
    actor: str = "anonymous",
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        object_type="user",
        object_id=user_id,
        details=details,
        clock=clock,
    )


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _login_succeeded(user: User, clock: Clock) -> None:
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = clock.now()


def _end_reason(record: UserSession, policy: SessionPolicy, now: datetime) -> str | None:
    user = record.user
    return _reason(
        _Facts(
            user.is_active,
            user.sessions_valid_after,
            user.role,
            record.created_at,
            record.last_seen_at,
        ),
        policy,
        now,
    )


@dataclass(frozen=True)
class _Facts:
    """What decides whether a login session has ended, from the ORM or from plain columns."""

    is_active: bool
    sessions_valid_after: datetime | None
    role: Role
    created_at: datetime
    last_seen_at: datetime


def _reason(facts: _Facts, policy: SessionPolicy, now: datetime) -> str | None:
    if not facts.is_active:
        return "disabled"
    if facts.sessions_valid_after is not None and facts.created_at < facts.sessions_valid_after:
        return "revoked"
    if now - facts.created_at > policy.lifetime:
        return "expired"
    # E-08: the inactivity timeout is for portal users. An operator's console may stay quiet
    # for hours and must still show the next alert at once: it lives for the shift.
    if facts.role not in CONSOLE_ROLES and now - facts.last_seen_at > policy.idle:
        return "idle"
    return None


def _find(session: Session, token: str) -> UserSession | None:
    record = session.scalar(select(UserSession).where(UserSession.token_hash == _hash_token(token)))
    return None if record is None or record.ended_at is not None else record


def check_session(
    session: Session, token: str, *, policy: SessionPolicy, clock: Clock
) -> tuple[UserSession | None, UserSession | None]:
    """Read-only twin of ``resolve_session``: (live session or None, session due to end or None)."""
    record = _find(session, token)
    if record is None:
        return None, None
    if _end_reason(record, policy, clock.now()) is not None:
        return None, record
    return record, None


# Built once: on the path of every delivery, building the statement took a third of the
# check's Python time (docs/deployment.md).
_CONSOLE_SESSIONS = (
    select(
        UserSession.id,
        UserSession.second_factor_at,
        User.is_active,
        User.sessions_valid_after,
        User.role,
        UserSession.created_at,
        UserSession.last_seen_at,
    )
    .join(User, User.id == UserSession.user_id)
    .where(UserSession.id.in_(bindparam("ids", expanding=True)), UserSession.ended_at.is_(None))
)


def console_sessions(
    db: Session | Connection, ids: set[int], *, policy: SessionPolicy, clock: Clock
) -> set[int]:
    """Read-only, one query: the sessions among ``ids`` still allowed to feed a console (E-09).

    Live, past their second factor, of a role with the console. Run before every delivery
    to the consoles, so it reads plain columns: loading the sessions and their users as
    objects, 50 of each per delivery, was an eighth of a stack process's Python time.
    """
    if not ids:
        return set()
    now = clock.now()
    rows = db.execute(_CONSOLE_SESSIONS, {"ids": list(ids)})
    return {
        row.id
        for row in rows
        if row.second_factor_at is not None
        and role_has(row.role, Permission.CONSOLE)
        and _reason(
            _Facts(
                row.is_active, row.sessions_valid_after, row.role, row.created_at, row.last_seen_at
            ),
            policy,
            now,
        )
        is None
    }


def needs_touch(record: UserSession, policy: SessionPolicy, clock: Clock) -> bool:
    """Tell whether ``last_seen_at`` is old enough to be written again."""
    return clock.now() - record.last_seen_at > policy.touch_every


def resolve_session(
    session: Session, token: str, *, policy: SessionPolicy, clock: Clock
) -> tuple[UserSession | None, UserSession | None]:
    """Return (the live session of this token, or None; the session ended just now, or None).

    A session past its idle time or lifetime, or of a disabled account, is ended here (E-08);
    a live one has its ``last_seen_at`` refreshed (at most every 30 s).
    """
    record = _find(session, token)
    if record is None:
        return None, None
    reason = _end_reason(record, policy, clock.now())
    if reason is not None:
        end_session(session, record, reason=reason, clock=clock)
        return None, record
    if needs_touch(record, policy, clock):
        record.last_seen_at = clock.now()
    return record, None


def logout(session: Session, record: UserSession, *, clock: Clock) -> None:
    """End the session at its user's request and audit ``login.logout``.

    The actor is the user once fully logged in, ``anonymous`` while the TOTP step was due.
    """
    end_session(session, record, reason="logout", clock=clock)
    actor = f"user:{record.user_id}" if record.second_factor_at is not None else "anonymous"
    _audit_login(session, "login.logout", record.user_id, actor=actor, clock=clock)


def end_session(session: Session, record: UserSession, *, reason: str, clock: Clock) -> None:
    """End one session (logout, expiry)."""
    if record.ended_at is None:
        record.ended_at = clock.now()
        record.end_reason = reason
        session.flush()


def disable_user(session: Session, user: User, *, by: User, clock: Clock) -> int:
    """Disable an account and end all its sessions (E-08); return how many were ended.

    ``by`` is the administrator who disables it (the audit's actor).
    """
    user.is_active = False
    user.sessions_valid_after = clock.now()
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=clock.now(), end_reason="disabled")
        .execution_options(synchronize_session=False)
    )
    session.flush()
    ended = int(getattr(result, "rowcount", 0) or 0)
    audit.record(
        session,
        actor=f"user:{by.id}",
        action="user.disable",
        object_type="user",
        object_id=user.id,
        details={"sessions_ended": ended},
        clock=clock,
    )
    return ended
