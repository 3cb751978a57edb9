"""Password checks at login (R-50) with the hasher the composition root gives the services."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests import builders
from tgd.adapters.clock import FrozenClock
from tgd.adapters.crypto import EnvelopeCipher
from tgd.adapters.passwords import Argon2PasswordHasher, build_password_hasher
from tgd.services import auth

OPERATOR, OPERATOR_PASSWORD = "operateur", builders.PASSWORD


class RecordingHasher(Argon2PasswordHasher):
    """The fast hasher, noting which checks it was asked for."""

    def __init__(self) -> None:
        super().__init__("fast")
        self.calls: list[str] = []

    def verify(self, password_hash: str, password: str) -> bool:
        self.calls.append("verify")
        return super().verify(password_hash, password)

    def dummy_verify(self, password: str) -> None:
        self.calls.append("dummy_verify")
        super().dummy_verify(password)


@pytest.fixture
def operator(session: Session, cipher: EnvelopeCipher, clock: FrozenClock) -> None:
    """An operator account, its password hashed by the fast hasher."""
    builders.user(
        session, username=OPERATOR, cipher=cipher, hasher=build_password_hasher("fast"), clock=clock
    )


def test_an_unknown_username_costs_a_password_check(session: Session, clock: FrozenClock) -> None:
    hasher = RecordingHasher()
    check = auth.verify_password(session, "personne", "Quelconque-2026", hasher=hasher, clock=clock)
    assert check.reason == "unknown_user"
    assert hasher.calls == ["dummy_verify", "verify"]  # a real argon2 check, on a dummy hash


def test_a_known_username_costs_one_password_check(
    session: Session, operator: None, clock: FrozenClock
) -> None:
    hasher = RecordingHasher()
    check = auth.verify_password(session, OPERATOR, "Mauvais-2026", hasher=hasher, clock=clock)
    assert check.reason == "password" and hasher.calls == ["verify"]


def test_a_login_rehashes_a_password_hashed_at_another_cost(
    session: Session, operator: None, clock: FrozenClock
) -> None:
    fast = build_password_hasher("fast")  # the account was hashed with it
    same = auth.verify_password(session, OPERATOR, OPERATOR_PASSWORD, hasher=fast, clock=clock)
    assert same.reason is None and same.new_hash is None
    standard = build_password_hasher("standard")
    check = auth.verify_password(session, OPERATOR, OPERATOR_PASSWORD, hasher=standard, clock=clock)
    assert check.reason is None and check.user_id == same.user_id
    assert check.new_hash is not None and not standard.needs_rehash(check.new_hash)
    assert standard.verify(check.new_hash, OPERATOR_PASSWORD)
