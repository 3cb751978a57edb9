"""Fetching what a page acts on: a missing object, or one the page may not act on, is
``NotFound`` (the same answer as a bad id, R-51), so the views only parse and render."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import builders
from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models import ForceUnit, IntakeDocument, Task, User
from tgd.domain.errors import NOT_FOUND_OR_HIDDEN, NotFound
from tgd.domain.lifecycle import NavetteSource
from tgd.domain.roles import Role
from tgd.services import dispatch, intake, operators, termination, zones

UNKNOWN_ID = 999_999


def user(session: Session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


@pytest.fixture
def unit(session: Session, clock: FrozenClock) -> ForceUnit:
    """Give an active force unit (Paris' 11e commissariat)."""
    return builders.force_unit(
        session, territory=builders.territory(session, clock=clock), clock=clock
    )


@pytest.fixture
def accounts(session: Session, platform: Platform, clock: FrozenClock) -> None:
    """An operator, a supervisor, an administrator and Paris' parquet."""
    builders.juridiction(session, insee="75056", clock=clock)
    builders.users_of(
        session,
        (
            ("operateur", Role.OPERATOR, []),
            ("superviseur", Role.SUPERVISOR, []),
            ("admin", Role.ADMINISTRATOR, []),
            ("parquet.paris", Role.PARQUET, ["75056"]),
        ),
        cipher=platform.cipher,
        hasher=platform.hasher,
        clock=clock,
    )


def test_only_an_active_unit_is_dialled_into_the_bridge(session: Session, unit: ForceUnit) -> None:
    assert dispatch.get_active_unit(session, unit.id) is unit
    unit.is_active = False
    session.flush()
    for unit_id in (unit.id, UNKNOWN_ID, None):
        with pytest.raises(NotFound) as refused:
            dispatch.get_active_unit(session, unit_id)
        assert refused.value.template == "Unité inconnue."


def test_an_inactive_unit_is_still_edited_by_its_administrator(
    session: Session, unit: ForceUnit
) -> None:
    unit.is_active = False
    session.flush()
    assert zones.get_unit(session, unit.id) is unit
    with pytest.raises(NotFound) as refused:
        zones.get_unit(session, UNKNOWN_ID)
    assert refused.value.template == NOT_FOUND_OR_HIDDEN


def test_only_a_console_account_has_an_audio_line(session: Session, accounts: None) -> None:
    operator, supervisor = user(session, "operateur"), user(session, "superviseur")
    assert operators.get_console_account(session, operator.id) is operator
    assert operators.get_console_account(session, supervisor.id) is supervisor
    for user_id in (user(session, "admin").id, user(session, "parquet.paris").id, UNKNOWN_ID):
        with pytest.raises(NotFound):
            operators.get_console_account(session, user_id)


def test_a_document_already_keyed_in_or_set_aside_is_not_fetched_again(
    session: Session, clock: FrozenClock
) -> None:
    document = IntakeDocument(
        source=NavetteSource.EMAIL, received_at=clock.now(), content_type="application/pdf"
    )
    session.add(document)
    session.flush()
    assert intake.get_pending_document(session, document.id) is document
    document.handled_at = clock.now()
    session.flush()
    for document_id in (document.id, UNKNOWN_ID):
        with pytest.raises(NotFound):
            intake.get_pending_document(session, document_id)


def test_only_a_termination_check_with_its_file_is_confirmed(
    session: Session, accounts: None
) -> None:
    other_kind = Task(kind="line_health")
    without_file = Task(kind=termination.TASK_KIND)
    session.add_all([other_kind, without_file])
    session.flush()
    operator = user(session, "operateur")
    for task_id in (other_kind.id, without_file.id, UNKNOWN_ID):
        with pytest.raises(NotFound):
            termination.get_task(session, operator, task_id)
