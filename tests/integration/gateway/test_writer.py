"""The gateway writer: a batch's units commit together; a failing unit loses only its own."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from handset_gateway.db import GatewayWriter, _Unit
from tgd.container import Platform
from tgd.db.models.operations import ConsoleEvent
from tgd.services import events


def _adds(platform: Platform, name: str, *, fails: bool = False) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        events.add_event(session, "test", {"name": name}, territory_id=None, clock=platform.clock)
        session.flush()  # written in the transaction before it fails
        if fails:
            raise ValueError(f"unit {name} fails")
        return name

    return work


def _names(platform: Platform) -> list[str]:
    with platform.sessions() as session:
        found = session.scalars(
            select(ConsoleEvent).where(ConsoleEvent.kind == "test").order_by(ConsoleEvent.seq)
        )
        return [event.payload["name"] for event in found]


def test_a_failing_unit_loses_its_writes_and_the_rest_of_its_batch_commits(
    platform: Platform,
) -> None:
    deadline = time.monotonic() + 10
    units = [
        _Unit(_adds(platform, "a"), "a", deadline),
        _Unit(_adds(platform, "b", fails=True), "b", deadline),
        _Unit(_adds(platform, "c"), "c", deadline),
        _Unit(_adds(platform, "d", fails=True), "d", deadline),
    ]
    GatewayWriter(platform)._write(units)

    assert [unit.result for unit in units] == ["a", None, "c", None]
    assert [type(unit.error) for unit in units] == [type(None), ValueError, type(None), ValueError]
    assert _names(platform) == ["a", "c"]


def test_units_run_through_the_writer_are_committed_when_it_answers(platform: Platform) -> None:
    writer = GatewayWriter(platform)
    assert writer.run(_adds(platform, "e"), timeout_ms=5000, label="test") == "e"
    assert _names(platform) == ["e"]
