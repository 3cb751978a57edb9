"""The console outbox (E-02): committed events numbered without gaps, in insert order."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models.operations import ConsoleEvent
from tgd.db.outbox_order import EVENTS_ADDED, numbers_at_commit
from tgd.db.session import make_quick_read_engine
from tgd.db.writes import write_transaction
from tgd.services import events, outbox


def _add(session: Session, clock: FrozenClock, *names: str) -> None:
    for name in names:
        events.add_event(session, "test", {"name": name}, territory_id=None, clock=clock)
    session.commit()


def _stored(session: Session) -> list[tuple[int | None, str]]:
    session.expire_all()
    rows = session.execute(
        select(ConsoleEvent.published_seq, ConsoleEvent.payload)
        .where(ConsoleEvent.kind == "test")
        .order_by(ConsoleEvent.seq)
    ).all()
    return [(row.published_seq, row.payload["name"]) for row in rows]


def test_events_are_numbered_in_insert_order_without_gaps(
    platform: Platform, session: Session, clock: FrozenClock
) -> None:
    _add(session, clock, "a", "b")
    first = outbox.publish_pending(platform.engine, clock=clock)
    _add(session, clock, "c", "d", "e")
    second = outbox.publish_pending(platform.engine, clock=clock)

    stored = _stored(session)
    numbers = [seq for seq, _ in stored]
    assert numbers == list(range(numbers[0], numbers[0] + 5))
    assert [name for _, name in stored] == ["a", "b", "c", "d", "e"]
    published = outbox.events_since(session, numbers[0] - 1)
    assert [(e.seq, e.payload["name"]) for e in published] == stored
    if numbers_at_commit(platform.engine.dialect.name):
        # SQLite: each transaction numbered its own events as it committed.
        assert first == second == []
    else:
        # PostgreSQL: numbered by the publication, which returns them to push.
        assert [(e.seq, e.payload["name"]) for e in first + second] == stored
        assert all(e.created_at == clock.now() for e in first + second)
    assert outbox.publish_pending(platform.engine, clock=clock) == []


def test_events_inserted_without_the_orm_are_numbered_with_the_others(
    platform: Platform, session: Session, clock: FrozenClock
) -> None:
    # The gateway's hot path inserts its events by a statement of their own (no ORM
    # object): they are numbered, in order, with the ORM's, and the hub hears of them.
    events.add_event(session, "test", {"name": "a"}, territory_id=None, clock=clock)
    session.flush()
    row = events.event_values("test", {"name": "b"}, territory_id=None, clock=clock)
    events.insert_now(session, row)
    events.add_event(session, "test", {"name": "c"}, territory_id=None, clock=clock)
    assert session.info[EVENTS_ADDED] is True
    session.commit()
    outbox.publish_pending(platform.engine, clock=clock)

    stored = _stored(session)
    numbers = [seq for seq, _ in stored]
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    assert [name for _, name in stored] == ["a", "b", "c"]


def test_a_rolled_back_transaction_leaves_no_gap(
    platform: Platform, session: Session, clock: FrozenClock
) -> None:
    _add(session, clock, "a")
    outbox.publish_pending(platform.engine, clock=clock)
    events.add_event(session, "test", {"name": "lost"}, territory_id=None, clock=clock)
    session.flush()
    session.rollback()
    with session.begin_nested():
        events.add_event(session, "test", {"name": "b"}, territory_id=None, clock=clock)
    savepoint = session.begin_nested()
    events.add_event(session, "test", {"name": "also lost"}, territory_id=None, clock=clock)
    session.flush()
    savepoint.rollback()
    session.commit()
    outbox.publish_pending(platform.engine, clock=clock)

    stored = _stored(session)
    assert [name for _, name in stored] == ["a", "b"]
    assert stored[1][0] == (stored[0][0] or 0) + 1


def test_events_added_outside_the_factory_are_numbered_by_the_publication(
    platform: Platform, clock: FrozenClock
) -> None:
    plain = sessionmaker(bind=platform.engine)  # not make_session_factory's: no numbering
    with write_transaction(plain) as stray:
        events.add_event(stray, "test", {"name": "stray"}, territory_id=None, clock=clock)
    published = outbox.publish_pending(platform.engine, clock=clock)
    with platform.sessions() as session:
        stored = _stored(session)
    assert [name for _, name in stored] == ["stray"]
    assert stored[0][0] is not None
    assert [e.payload["name"] for e in published] == ["stray"]


def test_a_backlog_is_numbered_a_batch_at_a_time_in_insert_order(
    platform: Platform, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "_NUMBER", outbox._numbering(batch=3))
    plain = sessionmaker(bind=platform.engine)  # strays: numbered by the publication
    with write_transaction(plain) as stray:
        for name in "abcdefg":
            events.add_event(stray, "test", {"name": name}, territory_id=None, clock=clock)
    passes = [outbox.publish_pending(platform.engine, clock=clock) for _ in range(4)]
    assert [[e.payload["name"] for e in batch] for batch in passes] == [
        ["a", "b", "c"],
        ["d", "e", "f"],
        ["g"],
        [],
    ]
    numbers = [e.seq for batch in passes for e in batch]
    assert numbers == list(range(numbers[0], numbers[0] + 7))
    with platform.sessions() as session:
        assert [seq for seq, _ in _stored(session)] == numbers


def test_the_hub_s_quick_reads_number_in_order_and_stay_in_autocommit(
    platform: Platform, clock: FrozenClock
) -> None:
    reads = make_quick_read_engine(platform.engine)
    if reads is None:
        pytest.skip("PostgreSQL only: SQLite numbers at commit")
    try:
        plain = sessionmaker(bind=platform.engine)  # numbered by the publication, as on PG
        for names in ("ab", "cde"):
            with write_transaction(plain) as writer:
                for name in names:
                    events.add_event(writer, "test", {"name": name}, territory_id=None, clock=clock)
        published = outbox.publish_pending(platform.engine, clock=clock, reads=reads)
        assert [e.payload["name"] for e in published] == list("abcde")
        assert [e.seq for e in published] == list(range(published[0].seq, published[0].seq + 5))
        assert outbox.publish_pending(platform.engine, clock=clock, reads=reads) == []
        with reads.connect() as conn:  # the numbering's transaction did not stay behind
            assert conn.connection.driver_connection.autocommit is True  # type: ignore[union-attr]
    finally:
        reads.dispose()
