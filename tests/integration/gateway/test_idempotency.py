"""E-03 on PostgreSQL: a delivery that loses the race on the unique key gets the first answer."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tgd.container import Platform
from tgd.db.models.alerts import Alert
from tgd.services.alerts import IncomingCall
from tgd.services.dispatch import receive_call

from .conftest import LINE_1


def _receive(platform: Platform, session: object, sid: str) -> str:
    return receive_call(
        session,  # type: ignore[arg-type]
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
    winner = _receive(platform, first, "CArace")  # inserted, not yet committed
    answers: list[str] = []

    def second_delivery() -> None:
        with platform.sessions() as session:
            answers.append(_receive(platform, session, "CArace"))  # blocks on the unique key
            session.commit()

    thread = threading.Thread(target=second_delivery)
    thread.start()
    thread.join(timeout=0.5)
    assert thread.is_alive()  # waiting for the first transaction
    first.commit()
    first.close()
    thread.join(timeout=10)
    assert answers == [winner]
    with platform.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
