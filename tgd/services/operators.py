"""The operator's seat (R-24d, E-08): audio line, screen lock, re-authentication, presence.

- Audio line: each operator has one (an E.164 number or a ``sip:`` address), set by an
  administrator on the account or chosen for the shift on the login session; claiming an
  alert dials it into the bridge. Without one, the operator cannot claim (R-24d).
- Screen lock (E-08): after the configured idle time the console locks; the session and
  its socket stay (alerts keep ringing), the personal data is refused until the password
  is given again. Wrong passwords count like login failures; too many end the session.
- Re-authentication (E-08): export and destruction ask for the password again.
- Presence: each console socket is a row written on connect and disconnect, refreshed by
  its process, so supervisors count operators across every app process.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import phonenumbers
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from tgd.db.models.operations import ConsolePresence
from tgd.db.models.users import User, UserSession
from tgd.domain.errors import N_, NOT_FOUND_OR_HIDDEN, DomainError, NotFound, ValidationError
from tgd.ports import Clock, PasswordHasher
from tgd.services import audit, auth

SIP_RE = re.compile(r"^sip:[A-Za-z0-9._~%!$&'()*+,;=-]+@[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
PRESENCE_TTL = timedelta(seconds=45)  # a process refreshes its rows every 15 s


class PasswordRefused(DomainError):
    """The password given to unlock or to confirm an operation is wrong."""

    http_status = 403


def normalise_audio_line(text: str) -> str:
    """Return an audio line in canonical form (E.164, or a ``sip:`` address); refuse others."""
    value = text.strip()
    if value.lower().startswith("sip:"):
        value = "sip:" + value[4:]
        if not SIP_RE.match(value) or len(value) > 200:
            raise ValidationError(
                N_(
                    "Adresse SIP invalide : attendu sip:poste@domaine "
                    "(par exemple sip:poste12@centre.example)."
                )
            )
        return value
    try:
        number = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            N_(
                "Ligne audio invalide : un numéro de téléphone (01 99 00 10 01, "
                "+33 1 99 00 10 01) ou une adresse sip:."
            )
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def audio_line_of(user: User, record: UserSession | None) -> str | None:
    """Return the line to dial for this operator: the shift's choice, else the account's."""
    if record is not None and record.audio_line:
        return record.audio_line
    return user.audio_line


def get_console_account(session: Session, user_id: int) -> User:
    """Fetch an operator's or supervisor's account, or raise ``NotFound`` (as a bad id)."""
    account = session.get(User, user_id)
    if account is None or account.role not in auth.CONSOLE_ROLES:
        raise NotFound(NOT_FOUND_OR_HIDDEN)
    return account


def set_audio_line(
    session: Session, account: User, line: str, *, actor: str, clock: Clock
) -> str | None:
    """Set (or clear, with an empty text) the audio line of an account (administrator)."""
    value = normalise_audio_line(line) if line.strip() else None
    account.audio_line = value
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.audio_line",
        object_type="user",
        object_id=account.id,
        details={"kind": _kind(value)},
        clock=clock,
    )
    return value


def choose_shift_line(session: Session, record: UserSession, line: str, *, clock: Clock) -> str:
    """Choose the audio line of this shift (kept on the login session, R-24d)."""
    value = normalise_audio_line(line) if line.strip() else None
    record.audio_line = value
    session.flush()
    audit.record(
        session,
        actor=f"user:{record.user_id}",
        action="console.shift_line",
        object_type="user",
        object_id=record.user_id,
        details={"kind": _kind(value)},
        clock=clock,
    )
    return audio_line_of(record.user, record) or ""


def _kind(value: str | None) -> str:
    if value is None:
        return "none"
    return "sip" if value.startswith("sip:") else "phone"


def lock_screen(session: Session, record: UserSession, *, clock: Clock) -> None:
    """E-08: lock the console of this session (idle); the session itself goes on."""
    if record.locked_at is None:
        record.locked_at = clock.now()
        session.flush()
        audit.record(
            session,
            actor=f"user:{record.user_id}",
            action="console.lock",
            object_type="user",
            object_id=record.user_id,
            clock=clock,
        )


def password_matches(record: UserSession, password: str, *, hasher: PasswordHasher) -> bool:
    """Check the session's user's password (argon2: call it before the write transaction)."""
    return hasher.verify(record.user.password_hash, password)


def _check_password(session: Session, record: UserSession, matches: bool, *, clock: Clock) -> None:
    user = record.user
    if matches:
        user.failed_logins = 0
        return
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= auth.MAX_FAILURES:
        # The account is not locked (the next shift must be able to log in at once): the
        # session ends, and a full login with the second factor is needed.
        user.failed_logins = 0
        auth.end_session(session, record, reason="password", clock=clock)
        raise PasswordRefused(
            N_("Trop de mots de passe incorrects : la session est fermée, reconnectez-vous.")
        )
    raise PasswordRefused(N_("Mot de passe incorrect."))


def unlock_screen(session: Session, record: UserSession, matches: bool, *, clock: Clock) -> None:
    """E-08: unlock the console if the password matched (``password_matches``)."""
    _check_password(session, record, matches, clock=clock)
    record.locked_at = None
    session.flush()
    audit.record(
        session,
        actor=f"user:{record.user_id}",
        action="console.unlock",
        object_type="user",
        object_id=record.user_id,
        clock=clock,
    )


def confirm_password(
    session: Session, record: UserSession, matches: bool, *, purpose: str, clock: Clock
) -> None:
    """E-08: re-authentication before an export or a destruction (the password again)."""
    _check_password(session, record, matches, clock=clock)
    audit.record(
        session,
        actor=f"user:{record.user_id}",
        action="login.reauthenticated",
        object_type="user",
        object_id=record.user_id,
        details={"purpose": purpose},
        clock=clock,
    )


def add_presence(
    session: Session, *, process_key: str, sid: str, user_id: int, session_id: int, clock: Clock
) -> None:
    """Record a console socket of this process (on connect)."""
    now = clock.now()
    session.add(
        ConsolePresence(
            process_key=process_key,
            sid=sid[:64],
            user_id=user_id,
            session_id=session_id,
            connected_at=now,
            seen_at=now,
        )
    )
    session.flush()


def drop_presence(session: Session, *, process_key: str, sid: str) -> None:
    """Forget a console socket of this process (on disconnect)."""
    session.execute(
        delete(ConsolePresence).where(
            ConsolePresence.process_key == process_key, ConsolePresence.sid == sid[:64]
        )
    )


def refresh_presence(session: Session, *, process_key: str, clock: Clock) -> None:
    """Mark this process's sockets as still there; forget those of processes long gone."""
    now = clock.now()
    session.execute(
        update(ConsolePresence)
        .where(ConsolePresence.process_key == process_key)
        .values(seen_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(ConsolePresence).where(ConsolePresence.seen_at < now - 10 * PRESENCE_TTL)
    )


def connected_users(session: Session, *, now: datetime) -> list[tuple[User, int]]:
    """Return the users with a console open in any process, and how many consoles each."""
    rows = session.execute(
        select(User, func.count(ConsolePresence.id))
        .join(ConsolePresence, ConsolePresence.user_id == User.id)
        .where(ConsolePresence.seen_at >= now - PRESENCE_TTL)
        .group_by(User.id)
        .order_by(User.display_name)
    ).all()
    return [(user, int(n)) for user, n in rows]
