"""Which login sessions may still feed a console (E-09), read before every delivery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from tests import builders
from tgd.adapters.clock import FrozenClock
from tgd.adapters.crypto import EnvelopeCipher
from tgd.adapters.passwords import build_password_hasher
from tgd.db.models.users import User, UserSession
from tgd.domain.roles import Role
from tgd.services import auth

POLICY = auth.SessionPolicy(idle=timedelta(minutes=15), lifetime=timedelta(hours=12))


@pytest.fixture
def people(session: Session, cipher: EnvelopeCipher, clock: FrozenClock) -> dict[str, User]:
    hasher = build_password_hasher("fast")
    made = {
        name: builders.user(
            session, username=name, role=role, cipher=cipher, hasher=hasher, clock=clock
        )
        for name, role in [
            ("operateur", Role.OPERATOR),
            ("superviseur", Role.SUPERVISOR),
            ("auditeur", Role.AUDITOR),
        ]
    }
    session.flush()
    return made


def _open(session: Session, user: User, clock: FrozenClock, *, totp: bool = False) -> UserSession:
    _token, record = auth.open_session(session, user, source=None, require_totp=totp, clock=clock)
    session.flush()
    return record


def _allowed(session: Session, *records: UserSession, clock: FrozenClock) -> set[int]:
    return auth.console_sessions(session, {r.id for r in records}, policy=POLICY, clock=clock)


def test_live_console_sessions_are_allowed_and_others_are_not(
    session: Session, people: dict[str, User], clock: FrozenClock
) -> None:
    operator = _open(session, people["operateur"], clock)
    supervisor = _open(session, people["superviseur"], clock)
    auditor = _open(session, people["auditeur"], clock)  # a live session, but no console
    waiting = _open(session, people["superviseur"], clock, totp=True)  # TOTP still due
    assert waiting.second_factor_at is None
    ended = _open(session, people["operateur"], clock)
    auth.logout(session, ended, clock=clock)
    session.flush()
    allowed = _allowed(session, operator, supervisor, auditor, waiting, ended, clock=clock)
    assert allowed == {operator.id, supervisor.id}


def test_a_console_session_ends_with_its_lifetime_not_its_quiet(
    session: Session, people: dict[str, User], clock: FrozenClock
) -> None:
    operator = _open(session, people["operateur"], clock)
    clock.advance(hours=2)  # quiet for longer than the portal's idle time (E-08)
    assert _allowed(session, operator, clock=clock) == {operator.id}
    clock.advance(hours=10, seconds=1)
    assert _allowed(session, operator, clock=clock) == set()


def test_a_disabled_revoked_or_demoted_account_loses_its_console(
    session: Session, people: dict[str, User], clock: FrozenClock
) -> None:
    records = {name: _open(session, user, clock) for name, user in people.items()}
    clock.advance(seconds=1)
    people["operateur"].is_active = False
    people["superviseur"].sessions_valid_after = clock.now()  # "end my other sessions"
    session.flush()
    assert _allowed(session, *records.values(), clock=clock) == set()
    people["operateur"].is_active = True
    people["operateur"].role = Role.COMMITTEE
    session.flush()
    assert _allowed(session, records["operateur"], clock=clock) == set()
    people["operateur"].role = Role.SUPERVISOR
    session.flush()
    assert _allowed(session, records["operateur"], clock=clock) == {records["operateur"].id}
