"""Session helpers: batches loaded once, then found without a query; reads in one round trip."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.orm import Session

from tests import builders
from tests.cycles import assert_no_cycle_made
from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models.territories import Territory
from tgd.db.session import (
    begin_with_advisory_lock,
    make_quick_read_engine,
    once_more_if_dropped,
    preload,
)
from tgd.db.writes import write_connection


def test_rows_preloaded_are_found_without_a_query(
    platform: Platform, session: Session, clock: FrozenClock
) -> None:
    ids = [builders.territory(session, code=code, clock=clock).id for code in ("75", "974")]
    session.commit()
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with platform.sessions() as batch:
        assert {t.id for t in preload(batch, Territory, [*ids, None])} == set(ids)
        event.listen(platform.engine, "before_cursor_execute", count)
        try:
            names = [batch.get(Territory, i).name for i in ids]  # type: ignore[union-attr]
        finally:
            event.remove(platform.engine, "before_cursor_execute", count)
    assert len(names) == 2
    assert statements == []  # the identity map held them: no SELECT per row


def test_preloading_leaves_no_reference_cycle(
    platform: Platform, session: Session, clock: FrozenClock
) -> None:
    # Escalation, overflow and dials preload every batch: with the ids as a literal list,
    # each statement left its bind parameters in a cycle (docs/gateway.md).
    ids = [builders.territory(session, code=code, clock=clock).id for code in ("75", "974")]
    session.commit()

    def batches(_attempt: int) -> None:
        for _ in range(20):
            with platform.sessions() as batch:
                assert len(preload(batch, Territory, ids)) == 2

    batches(0)  # the first statement is compiled and cached
    assert_no_cycle_made(batches)


def _quick(platform: Platform) -> Engine:
    if platform.engine.dialect.name == "sqlite":
        assert make_quick_read_engine(platform.engine) is None  # reads stay in the process
        pytest.skip("PostgreSQL only: a read on SQLite is no round trip")
    quick = make_quick_read_engine(platform.engine)
    assert quick is not None
    return quick


def _same_instant(engine: Engine) -> bool:
    # now() is when the transaction began, statement_timestamp() when this statement did:
    # equal only if the statement is its transaction (no BEGIN, no ping sent before it).
    with engine.connect() as conn:
        same = conn.scalar(text("SELECT now() = statement_timestamp()"))
        conn.rollback()
    return bool(same)


def _server_process(conn: Connection) -> int:
    return int(conn.scalar(text("SELECT pg_backend_pid()")) or 0)


def _terminate(session: Session, pid: int) -> None:
    """End a server process, and wait until it is gone (the signal is asynchronous)."""
    session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    session.commit()
    for _ in range(200):
        gone = not session.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        )
        session.rollback()
        if gone:
            return
        time.sleep(0.01)
    raise AssertionError(f"server process {pid} still there")


def test_a_quick_read_is_one_statement_without_ping_or_begin(platform: Platform) -> None:
    quick = _quick(platform)
    try:
        assert _same_instant(quick)
        assert not _same_instant(platform.engine)  # the pool's ping, in a transaction
    finally:
        quick.dispose()


def test_a_quick_read_runs_again_when_the_server_dropped_its_connection(
    platform: Platform, session: Session
) -> None:
    quick = _quick(platform)
    try:
        with quick.connect() as conn:
            pid = _server_process(conn)
        _terminate(session, pid)

        def read() -> int:
            with quick.connect() as conn:
                return _server_process(conn)

        assert once_more_if_dropped(read) not in (0, pid)
    finally:
        quick.dispose()


def test_the_advisory_lock_sent_with_begin_is_held_to_the_commit(
    platform: Platform, session: Session
) -> None:
    if platform.engine.dialect.name == "sqlite":
        pytest.skip("PostgreSQL only")
    key = 0x7E57

    def free() -> bool:
        taken = session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})
        session.rollback()
        return bool(taken)

    with write_connection(platform.engine, label="test") as conn:
        begin_with_advisory_lock(conn, key)
        assert not free()
    assert free()


def test_the_lock_sent_with_begin_on_a_dropped_connection_is_reported_as_dropped(
    platform: Platform, session: Session
) -> None:
    quick = _quick(platform).execution_options(isolation_level="READ COMMITTED")
    try:
        with quick.connect() as conn:
            pid = _server_process(conn)
        _terminate(session, pid)

        def lock() -> int:
            with write_connection(quick, label="test") as conn:
                begin_with_advisory_lock(conn, 0x7E58)
                return _server_process(conn)

        assert once_more_if_dropped(lock) not in (0, pid)
    finally:
        quick.engine.dispose()
