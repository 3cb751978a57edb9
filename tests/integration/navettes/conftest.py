"""Navette fixtures: demo data, logins through the real forms, small helpers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.integration.web.conftest import ACCOUNTS, csrf_of, post_form  # noqa: F401 - re-exported
from tgd.db.models.users import User

FREE_LINE = "M 75 75056 05 1"  # demo: en attente d'affectation, Paris
ASSIGNED_LINE = "M 75 75056 01 1"  # demo: affecté, Camille Lefebvre-Démo
REUNION_FREE_LINE = "M 974 97411 02 1"  # demo: en attente, Saint-Denis

# ``login`` and ``enrolled`` come from tests/integration/conftest.py.


def user(session: Session, username: str) -> User:
    """Return a demo user."""
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found
