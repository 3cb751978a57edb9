"""The gateway writer: a batch's units commit together; a failing unit loses only its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from handset_gateway.db import GatewayWriter, _KeptConnection, _Unit
from handset_gateway.turns import WebhookTurns
from tgd.container import Platform
from tgd.db.models.operations import ConsoleEvent
from tgd.services import events as console_events


def _adds(platform: Platform, name: str, *, fails: bool = False) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        console_events.add_event(
            session, "test", {"name": name}, territory_id=None, clock=platform.clock
        )
        session.flush()  # written in the transaction before it fails
        if fails:
            raise ValueError(f"unit {name} fails")
        return name

    return work


def _connection(session: Session) -> object:
    return session.connection().connection.dbapi_connection


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
    GatewayWriter(platform)._write(units, [])

    assert [unit.result for unit in units] == ["a", None, "c", None]
    assert [type(unit.error) for unit in units] == [type(None), ValueError, type(None), ValueError]
    assert _names(platform) == ["a", "c"]


def test_units_run_through_the_writer_are_committed_when_it_answers(platform: Platform) -> None:
    writer = GatewayWriter(platform)
    assert writer.run(_adds(platform, "e"), timeout_ms=5000, label="test") == "e"
    assert _names(platform) == ["e"]
    stats = writer.stats
    assert (stats.units, stats.batches, stats.dropped) == (1, 1, 0)
    assert stats.batch_seconds >= stats.batch_cpu_seconds > 0
    assert stats.queue_seconds >= 0


def test_a_unit_whose_request_gave_up_is_dropped_and_counted(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("handset_gateway.db.IDLE_EXIT", 0.05)
    writer = GatewayWriter(platform)
    late = _Unit(_adds(platform, "late"), "late", time.monotonic() - 1)  # its deadline passed
    writer._queue.append(late)
    assert writer._next_batch() == []  # nothing left to write: idle, then ends
    assert late.cancelled and late.done.is_set()
    assert writer.stats.dropped == 1 and writer.stats.units == 0
    assert _names(platform) == []


def _a_call_arrives_during(
    writer: GatewayWriter, platform: Platform, name: str, results: dict[str, Any]
) -> Callable[[Session], str]:
    """A unit that, while it runs, has an incoming call queued (and waits until it is).

    The call's thread is ``results["thread"]``: join it before reading ``results["call"]``
    (its unit may be done before the thread has stored what ``run`` returned).
    """

    def call() -> None:
        try:
            results["call"] = writer.run(
                _adds(platform, "call"), timeout_ms=5000, label="voice", urgent=True
            )
        except Exception as exc:  # the test asserts on it
            results["call"] = exc

    def work(session: Session) -> str:
        _adds(platform, name)(session)
        results["thread"] = threading.Thread(target=call)
        results["thread"].start()
        for _ in range(500):
            if writer._urgent:
                break
            time.sleep(0.01)
        return name

    return work


def _queue_and_wait(writer: GatewayWriter, units: list[_Unit[Any]]) -> None:
    """Queue units as one burst for the writer's thread and wait until each is done."""
    with writer._cond:
        writer._queue.extend(units)
        writer._ensure_thread()
        writer._cond.notify()
    for unit in units:
        assert unit.done.wait(10)


def test_a_batch_commits_early_when_a_call_arrives_and_runs_its_rest_after_the_call(
    platform: Platform,
) -> None:
    writer = GatewayWriter(platform)
    results: dict[str, Any] = {}
    deadline = time.monotonic() + 10
    units = [
        _Unit(_a_call_arrives_during(writer, platform, "s1", results), "status", deadline),
        _Unit(_adds(platform, "s2"), "status", deadline),
        _Unit(_adds(platform, "s3"), "status", deadline),
    ]
    _queue_and_wait(writer, units)

    assert [unit.result for unit in units] == ["s1", "s2", "s3"]
    results["thread"].join(10)
    assert results["call"] == "call"
    # The call was committed right after the unit in progress, before the rest of its batch.
    assert _names(platform) == ["s1", "call", "s2", "s3"]
    assert writer.stats.yielded == 1 and writer.stats.units == 4


def test_an_incoming_call_is_taken_before_the_units_queued_before_it(platform: Platform) -> None:
    writer = GatewayWriter(platform)
    deadline = time.monotonic() + 10
    status = _Unit(_adds(platform, "status"), "status", deadline)
    call = _Unit(_adds(platform, "call"), "voice", deadline, urgent=True)
    writer._queue.append(status)
    writer._urgent.append(call)
    assert writer._next_batch() == [call]  # alone: its commit waits for no callback
    writer._idle()  # the call's batch written
    assert writer._next_batch() == [status]


def test_units_left_by_a_batch_whose_commit_failed_are_not_told_of_it_and_run_later(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = GatewayWriter(platform)
    results: dict[str, Any] = {}
    real_commit = Session.commit
    commits: list[int] = []

    def first_commit_fails(self: Session) -> None:
        commits.append(1)
        if len(commits) == 1:
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
        real_commit(self)

    monkeypatch.setattr(Session, "commit", first_commit_fails)
    deadline = time.monotonic() + 10
    units = [
        _Unit(_a_call_arrives_during(writer, platform, "s1", results), "status", deadline),
        _Unit(_adds(platform, "s2"), "status", deadline),
    ]
    _queue_and_wait(writer, units)

    assert isinstance(units[0].error, OperationalError)  # its batch's commit failed
    assert units[1].error is None and units[1].result == "s2"  # deferred, then written
    results["thread"].join(10)
    assert results["call"] == "call"
    assert _names(platform) == ["call", "s2"]


class _Deadlock(Exception):
    sqlstate = "40P01"


def test_a_unit_caught_in_a_deadlock_runs_again_once(platform: Platform) -> None:
    tries: list[int] = []

    def work(session: Session) -> str:
        tries.append(1)
        _adds(platform, f"try{len(tries)}")(session)
        if len(tries) == 1:  # the server chose this transaction to abort
            raise OperationalError("UPDATE call_legs …", {}, _Deadlock())
        return "done"

    deadline = time.monotonic() + 10
    units = [_Unit(work, "deadlocked", deadline), _Unit(_adds(platform, "other"), "o", deadline)]
    GatewayWriter(platform)._write(units, [])

    assert [unit.result for unit in units] == ["done", "other"]
    assert _names(platform) == ["try2", "other"]  # the aborted try left nothing


def test_a_unit_deadlocked_twice_fails_alone(platform: Platform) -> None:
    def work(session: Session) -> str:
        raise OperationalError("UPDATE call_legs …", {}, _Deadlock())

    deadline = time.monotonic() + 10
    units = [_Unit(work, "deadlocked", deadline), _Unit(_adds(platform, "other"), "o", deadline)]
    GatewayWriter(platform)._write(units, [])

    assert isinstance(units[0].error, OperationalError) and units[1].result == "other"
    assert _names(platform) == ["other"]


def test_a_batch_waits_for_locks_no_longer_than_its_units_may_wait(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    postgresql = platform.engine.dialect.name == "postgresql"
    monkeypatch.setattr(_KeptConnection, "BUSY_KEEP_SECONDS", 1.0)  # two runs: one burst
    used: list[Any] = []
    set_bounds: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if "set_config" in statement:
            set_bounds.append(statement)

    def bounds(session: Session) -> list[float]:
        used.append(_connection(session))
        if postgresql:
            in_ms = "SELECT EXTRACT(EPOCH FROM current_setting(:name)::interval) * 1000"
            return [
                float(session.scalar(text(in_ms), {"name": name}))
                for name in ("lock_timeout", "statement_timeout")
            ]
        return [float(session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar())]

    given_back = threading.Event()

    def checked_in(dbapi_connection: object, *_rest: object) -> None:
        if used and dbapi_connection is used[0]:
            given_back.set()

    event.listen(platform.engine, "checkin", checked_in)
    event.listen(platform.engine, "before_cursor_execute", seen)
    writer = GatewayWriter(platform)
    inside = writer.run(bounds, timeout_ms=3000, label="bounds")
    assert inside and all(2000 < ms <= 3000 for ms in inside)
    # Kept for the next batch of a burst (set once), then a pause: PostgreSQL's connection
    # goes back to the pool without them.
    given_back.clear()
    again = writer.run(bounds, timeout_ms=3000, label="again")
    assert again and all(2000 < ms <= 3000 for ms in again)
    try:
        if postgresql:
            assert len(set_bounds) == 1 and used[0] is used[1]
            assert given_back.wait(5), "the connection was not given back"
            with used[0].cursor() as cursor:  # back in the pool, as its next user finds it
                cursor.execute(
                    "SELECT name, setting = reset_val FROM pg_settings"
                    " WHERE name IN ('lock_timeout', 'statement_timeout') ORDER BY name"
                )
                assert cursor.fetchall() == [("lock_timeout", True), ("statement_timeout", True)]
            used[0].rollback()
    finally:
        event.remove(platform.engine, "checkin", checked_in)
        event.remove(platform.engine, "before_cursor_execute", seen)


def test_the_writer_keeps_its_connection_and_opens_another_after_a_failure(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_KeptConnection, "BUSY_KEEP_SECONDS", 30.0)  # PostgreSQL: no pause
    writer = GatewayWriter(platform)
    first = writer.run(_connection, timeout_ms=3000, label="first")
    assert writer.run(_connection, timeout_ms=3000, label="again") is first
    if platform.engine.dialect.name == "sqlite":
        with platform.engine.connect() as pooled:  # the pool's connections keep their bound
            assert pooled.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000

    def commit_fails(self: Session) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    with monkeypatch.context() as patch:
        patch.setattr(Session, "commit", commit_fails)
        with pytest.raises(OperationalError):
            writer.run(_adds(platform, "lost"), timeout_ms=3000, label="fails")
    assert writer.run(_connection, timeout_ms=3000, label="after") is not first
    assert writer.run(_adds(platform, "kept"), timeout_ms=3000, label="kept") == "kept"
    assert _names(platform) == ["kept"]


def test_a_postgresql_writer_checks_its_connection_out_again_after_a_pause(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    if platform.engine.dialect.name != "postgresql":
        pytest.skip("SQLite: the writer keeps its connection while it runs")
    monkeypatch.setattr(_KeptConnection, "BUSY_KEEP_SECONDS", 0.2)  # a burst's gaps are shorter
    checkouts: list[object] = []

    def checked_out(dbapi_connection: object, *_rest: object) -> None:
        checkouts.append(dbapi_connection)

    event.listen(platform.engine, "checkout", checked_out)
    try:
        writer = GatewayWriter(platform)
        for name in ("one", "two", "three"):  # a burst: one checkout, no ping between batches
            assert writer.run(_adds(platform, name), timeout_ms=3000, label=name) == name
        assert len(checkouts) == 1
        time.sleep(0.3)  # a pause: back to the pool, checked (pinged) at the next checkout
        assert writer.run(_adds(platform, "after"), timeout_ms=3000, label="after") == "after"
        assert len(checkouts) == 2
    finally:
        event.remove(platform.engine, "checkout", checked_out)
    assert _names(platform) == ["one", "two", "three", "after"]


def test_an_idle_writer_gives_its_connection_back_and_the_next_unit_opens_one(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("handset_gateway.db.IDLE_EXIT", 0.05)
    writer = GatewayWriter(platform)
    assert writer.run(_adds(platform, "before"), timeout_ms=3000, label="before") == "before"
    thread = writer._thread
    assert thread is not None
    thread.join(5)  # idle past IDLE_EXIT: the thread ends
    assert not thread.is_alive() and writer._kept is None
    assert writer.run(_adds(platform, "after"), timeout_ms=3000, label="after") == "after"
    assert _names(platform) == ["before", "after"]


def _noting_thread(
    platform: Platform, name: str, threads: dict[str, str]
) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        threads[name] = threading.current_thread().name
        return _adds(platform, name)(session)

    return work


def test_a_call_finding_the_writer_idle_is_written_by_its_own_thread(platform: Platform) -> None:
    writer = GatewayWriter(platform)
    threads: dict[str, str] = {}
    call = _noting_thread(platform, "call", threads)
    status = _noting_thread(platform, "status", threads)

    assert writer.run(call, timeout_ms=5000, label="voice", urgent=True) == "call"
    assert writer.run(status, timeout_ms=5000, label="status") == "status"

    # No hand-over for the call: committed before run() returned, in the caller's thread.
    assert threads["call"] == threading.current_thread().name
    assert threads["status"] == "tgd-gateway-writer"  # other units keep being batched
    assert _names(platform) == ["call", "status"]
    assert (writer.stats.units, writer.stats.batches, writer.stats.calls_here) == (2, 2, 1)


def _batch_in_progress(
    platform: Platform, writer: GatewayWriter, results: dict[str, Any]
) -> tuple[threading.Thread, threading.Event]:
    """Start a batch whose unit holds the writer until the event returned is set."""
    started, release = threading.Event(), threading.Event()

    def slow(session: Session) -> str:
        started.set()
        assert release.wait(10)
        return _adds(platform, "slow")(session)

    first = threading.Thread(
        target=lambda: results.setdefault("slow", writer.run(slow, timeout_ms=9000, label="s"))
    )
    first.start()
    assert started.wait(10)
    return first, release


def _until_queued(queue: Any) -> None:
    for _ in range(500):
        if queue:
            return
        time.sleep(0.01)


def test_a_call_finding_a_batch_in_progress_joins_the_next_one(platform: Platform) -> None:
    writer = GatewayWriter(platform)
    threads: dict[str, str] = {}
    results: dict[str, Any] = {}
    first, release = _batch_in_progress(platform, writer, results)
    second = threading.Thread(
        target=lambda: results.setdefault(
            "call",
            writer.run(
                _noting_thread(platform, "call", threads),
                timeout_ms=9000,
                label="voice",
                urgent=True,
            ),
        )
    )
    second.start()
    _until_queued(writer._urgent)  # the call queues behind the batch in progress
    assert list(writer._urgent) and "call" not in threads
    release.set()
    first.join(10)
    second.join(10)

    assert results == {"slow": "slow", "call": "call"}
    assert threads["call"] == "tgd-gateway-writer"
    assert _names(platform) == ["slow", "call"]


def test_a_callback_hands_its_turn_over_once_its_unit_is_queued(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The turn covers a callback's Python, not its wait for the commit: the next
    # callback's handling runs meanwhile, and its unit may join the same batch.
    turns = WebhookTurns(max_wait=9)  # a wait to the bound would fail the test below
    monkeypatch.setattr("handset_gateway.db.turns", turns)
    writer = GatewayWriter(platform)
    results: dict[str, Any] = {}
    first, release = _batch_in_progress(platform, writer, results)  # the callback's unit queues

    def callback() -> None:
        with turns.turn():
            results["status"] = writer.run(_adds(platform, "status"), timeout_ms=9000, label="c")

    second = threading.Thread(target=callback)
    second.start()
    _until_queued(writer._queue)  # its unit queued behind the batch in progress, its turn taken
    assert list(writer._queue)
    next_one = threading.Event()

    def take_the_next_turn() -> None:
        with turns.turn():
            next_one.set()

    third = threading.Thread(target=take_the_next_turn)
    third.start()
    try:
        assert next_one.wait(5)  # handed over, not waited to the bound
        assert "status" not in results  # while the first callback still waits for its commit
    finally:
        release.set()
        for thread in (first, second, third):
            thread.join(10)
    assert results == {"slow": "slow", "status": "status"}
    assert turns.stats.timeouts == 0
    assert _names(platform) == ["slow", "status"]


def test_calls_and_callbacks_from_many_threads_are_each_written_once(platform: Platform) -> None:
    writer = GatewayWriter(platform)
    names = [f"{kind}{i}" for i in range(40) for kind in ("call", "status")]
    results: dict[str, Any] = {}
    go = threading.Barrier(len(names))

    def send(name: str) -> None:
        go.wait(10)
        results[name] = writer.run(
            _adds(platform, name), timeout_ms=9000, label=name, urgent=name.startswith("call")
        )

    threads = [threading.Thread(target=send, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert results == {name: name for name in names}
    assert sorted(_names(platform)) == sorted(names)
    assert writer.stats.units == len(names) and not writer._busy
