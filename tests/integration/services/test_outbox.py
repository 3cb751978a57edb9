"""The console outbox (E-02): committed events numbered without gaps, in insert order."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models.operations import ConsoleEvent
from tgd.services import events, outbox


def _add(session: Session, clock: FrozenClock, *names: str) -> None:
    for name in names:
        events.add_event(session, "test", {"name": name}, territory_id=None, clock=clock)
    session.commit()


def test_each_batch_continues_the_numbering_in_insert_order(
    platform: Platform, session: Session, clock: FrozenClock
) -> None:
    _add(session, clock, "a", "b")
    first = outbox.publish_pending(platform.engine, clock=clock)
    _add(session, clock, "c", "d", "e")
    second = outbox.publish_pending(platform.engine, clock=clock)

    numbers = [e.seq for e in first + second]
    assert numbers == list(range(numbers[0], numbers[0] + 5))
    assert [e.payload["name"] for e in first + second] == ["a", "b", "c", "d", "e"]
    session.expire_all()
    stored = session.execute(
        select(ConsoleEvent.published_seq, ConsoleEvent.payload, ConsoleEvent.published_at)
        .where(ConsoleEvent.kind == "test")
        .order_by(ConsoleEvent.seq)
    ).all()
    assert [(row.published_seq, row.payload["name"]) for row in stored] == [
        (e.seq, e.payload["name"]) for e in first + second
    ]
    assert all(row.published_at == clock.now() for row in stored)
    assert outbox.publish_pending(platform.engine, clock=clock) == []
