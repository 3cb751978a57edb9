"""E-03 on PostgreSQL: a delivery that loses the race on the unique key gets the first answer."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tgd.container import Platform
from tgd.db.models.alerts import Alert
from tgd.db.writes import WRITER_OPTION
from tgd.services.alerts import IncomingCall
from tgd.services.dispatch import receive_call

from .conftest import LINE_1


def _receive(platform: Platform, session: Session, sid: str) -> str:
    # Two processes race here, each past its own write gate: the session is declared a
    # writer without taking this process's gate, so both reach the database together.
    session.connection(execution_options={WRITER_OPTION: True})
    return receive_call(
        session,
        IncomingCall(sid, LINE_1, "+33199000000"),
        render=lambda route: f"answer {route.conference}",
        gateway=platform.settings.gateway,
        alerts=platform.settings.alerts,
        counter_call_number="",
        cipher=platform.cipher,
        clock=platform.clock,
    )


@pytest.mark.usefixtures("demo")
def test_losing_a_race_on_the_call_id_returns_the_first_answer(platform: Platform) -> None:
    if platform.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE (tested on a real server)")
    first = platform.sessions()
    answers: list[str] = []

    def second_delivery() -> None:
        with platform.sessions() as session:
            answers.append(_receive(platform, session, "CArace"))  # blocks on the unique key
            session.commit()

    try:  # never leave the first transaction open: it would block the next test's cleanup
        winner = _receive(platform, first, "CArace")  # inserted, not yet committed
        thread = threading.Thread(target=second_delivery)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # waiting for the first transaction
        first.commit()
    finally:
        first.close()
    thread.join(timeout=10)
    assert answers == [winner]
    with platform.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
