"""Account creation (R-50, R-51) audits itself, whichever door asks for it (R-53)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import builders
from tgd.adapters.clock import FrozenClock
from tgd.adapters.crypto import EnvelopeCipher
from tgd.adapters.passwords import build_password_hasher
from tgd.db.models.audit import AuditEntry
from tgd.db.models.users import User
from tgd.domain.errors import ValidationError
from tgd.domain.roles import Role
from tgd.services import users


def _create(session: Session, cipher: EnvelopeCipher, clock: FrozenClock, password: str) -> None:
    users.create_user(
        session,
        username="op2",
        display_name="Opératrice deux",
        role=Role.OPERATOR,
        password=password,
        actor="system:cli",
        cipher=cipher,
        hasher=build_password_hasher("fast"),
        clock=clock,
    )


def test_a_created_account_is_audited_as_the_actor_with_its_role(
    session: Session, cipher: EnvelopeCipher, clock: FrozenClock
) -> None:
    _create(session, cipher, clock, builders.PASSWORD)
    session.flush()
    account = session.scalars(select(User).where(User.username == "op2")).one()
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.create")).one()
    assert (entry.actor, entry.object_type, entry.object_id) == (
        "system:cli",
        "user",
        str(account.id),
    )
    assert entry.details == {"role": "operator"}


def test_a_refused_account_leaves_no_audit_entry(
    session: Session, cipher: EnvelopeCipher, clock: FrozenClock
) -> None:
    with pytest.raises(ValidationError):
        _create(session, cipher, clock, "court")
    session.flush()
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "user.create")).all() == []
