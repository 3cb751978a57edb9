"""The gateway's writes: one writer thread, group commit, first in line, bounded in time.

E-01: the carrier gets its answer only after the commit that holds its alert. Every
gateway write (a call, a status callback, a position) is a *unit*: a function of a
session, handed to the process's ``GatewayWriter``. Its one thread takes the units
waiting, runs them in one transaction, commits them together (one ``fsync`` for the
batch) and only then wakes each request with its result, or with the error of its own
unit. A unit that fails takes the transaction down with it; the others run again
without it in a new one, so none of its writes is kept and theirs are. (A savepoint per
unit did the same at about 2.5 ms of CPU per unit, half the cost of recording an alert,
on every webhook; units fail rarely.)

Why one writer: SQLite admits one writer anyway, so a burst of webhooks in many
threads only queued on the lock and fought for the GIL; one thread writing batches
turns a burst into a few short transactions. The writer takes the database's write
gate with ``Priority.ALERT`` (``tgd.db.writes``): between two batches it waits only
for the one transaction in progress, never behind people's clicks or jobs. On
SQLite it begins with ``BEGIN IMMEDIATE``. One thread on PostgreSQL too: three threads
writing in parallel there made every figure worse (bench/gateway.py, p50 22 -> 56 ms),
each statement's wait for the GIL growing with the threads that compete for it.

Rows nobody reads back in the batch (console events, audit entries, an alert's caller
leg) are collected and inserted together just before the commit (``tgd.db.batch_rows``):
one statement per table for the batch instead of one per unit. Each statement gives the
GIL away, and under a burst taking it back cost the writer more than the statement. For
the same reason, a unit may come with its webhook receipt's claim, made before the unit
(a call's: ``alert_rows.IdentifyingClaim``): the batch's claims are made together by one
statement before its units run (``alert_rows.claim_together``).

A call that finds the writer idle (no batch in progress, nothing queued) is written by
its own request's thread, as a batch of one, under the same rules (``_write_here``): the
writer's thread would have to wake up for it, and the request's thread again for the
answer, each waiting for the GIL behind the rest of the process. Units arriving meanwhile
queue for the writer's thread, which starts its next batch once that one is committed.

Incoming calls first: a voice webhook's unit is *urgent*. Urgent units go ahead of the
others and make batches of their own (a call's commit waits for no callback), and a
batch of other units (status callbacks, positions) in progress stops at its next unit
boundary when a call arrives: it commits what it ran, the call's batch runs, then the
rest. Measured with bench/gateway.py in the overflow phase, where each alert brings three
or four callbacks: batches of 20-30 callbacks held the gate 160-210 ms and calls waited
behind them; in two interleaved pairs of runs the phase's p99 went from 147-260 ms to
57-105 ms (docs/gateway.md).

Status callbacks, SMS and positions reach the writer one at a time: each takes a turn
for its Python before its handling starts (``handset_gateway.turns``) and hands it on
here, once its unit is queued, so the turn never spans a commit and the writer still
groups the units queued meanwhile into one batch.

On PostgreSQL the batch's transaction can meet another writer (escalation, an operator's
action) on the same rows in the opposite order: the server aborts one of the two
(deadlock, or a serialisation failure). A unit of the gateway's aborted that way runs
again once, in the next attempt, instead of failing its webhook.

Each unit's wait is bounded by ``gateway.record_timeout_ms``: a unit not started by
then is dropped and its request told at once (``WriteGateTimeout``), so the voice
webhook can still bridge the caller to the fallback within Twilio's 15 s; a unit
already started is awaited (its commit may hold its alert). The database's own
bounds follow the same deadline: SQLite's ``busy_timeout`` (a lock held by another
process), PostgreSQL's ``lock_timeout`` and ``statement_timeout``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from handset_gateway.turns import turns
from tgd.container import Platform
from tgd.db import batch_rows
from tgd.db.writes import WRITER_OPTION, Priority, WriteGateTimeout, gate_for
from tgd.services import alert_rows
from tgd.services.alert_rows import IdentifyingClaim

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BATCH = 64  # units per transaction: a batch stays a few tens of milliseconds at most
STARTED_GRACE = 30.0  # seconds a request waits for a unit already started (its commit)
IDLE_EXIT = 60.0  # seconds without a unit before the writer's thread ends


@dataclass(eq=False)
class _Unit(Generic[T]):
    work: Callable[[Session], T]
    label: str
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)
    started: bool = False
    cancelled: bool = False
    result: Any = None
    error: BaseException | None = None
    retried: bool = False
    urgent: bool = False  # an incoming call: written before the others, never behind them
    claim: IdentifyingClaim | None = None  # its receipt's claim, made with the batch's
    queued_at: float = field(default_factory=time.monotonic)


@dataclass
class WriterStats:
    """What the writer did since the process started (``/metrics``, counters).

    The rate of ``batch_seconds`` is the share of the time the writer is busy (its queue
    grows as it nears 1); ``batch_seconds - batch_cpu_seconds`` is the time a batch waited
    for something other than its own work: the write gate, the database, and, under a
    burst, the GIL (docs/gateway.md).
    """

    units: int = 0  # written (committed, or failed alone)
    batches: int = 0
    dropped: int = 0  # never started: their request gave up (``record_timeout_ms``)
    yielded: int = 0  # batches committed early because an incoming call was waiting
    calls_here: int = 0  # calls written by their own thread, the writer idle (no hand-over)
    queue_seconds: float = 0.0  # from a unit's arrival to the start of its batch, summed
    batch_seconds: float = 0.0  # from a batch's start (its gate wait) to its commit
    batch_cpu_seconds: float = 0.0  # the writer thread's CPU in its batches


class GatewayWriter:
    """The process's single gateway writer: units in, batches committed, results out."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._urgent: deque[_Unit[Any]] = deque()  # incoming calls
        self._queue: deque[_Unit[Any]] = deque()  # everything else
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._busy = False  # a batch is being written, by the writer's thread or a call's own
        self.stats = WriterStats()
        self._kept: _KeptConnection | None = None

    def kept_connection(self, engine: Engine) -> _KeptConnection:
        """The connection this writer keeps between its batches (of this engine)."""
        if self._kept is None or self._kept.engine is not engine:
            if self._kept is not None:
                self._kept.close()
            self._kept = _KeptConnection(engine)
        return self._kept

    def run(
        self,
        work: Callable[[Session], T],
        *,
        timeout_ms: int,
        label: str,
        urgent: bool = False,
        claim: IdentifyingClaim | None = None,
    ) -> T:
        """Run ``work(session)`` in the next batch; return its result once committed.

        An ``urgent`` unit (an incoming call) goes ahead of every other unit waiting, and
        the batch in progress stops at its next unit boundary to commit and let it in.
        ``claim``: the receipt's claim ``work`` makes, made beforehand with those of the
        batch's other calls (``alert_rows.claim_together``).
        """
        deadline = time.monotonic() + timeout_ms / 1000
        unit: _Unit[T] = _Unit(work, label, deadline, urgent=urgent, claim=claim)
        if urgent and self._write_here(unit):
            return self._outcome(unit)
        with self._cond:
            self._ensure_thread()
            (self._urgent if urgent else self._queue).append(unit)
            self._cond.notify()
        turns.hand_over()  # queued: the next callback's Python may run while this one waits
        if not unit.done.wait(timeout_ms / 1000):
            with self._cond:
                if not unit.started:
                    unit.cancelled = True
                    self.stats.dropped += 1
                    raise WriteGateTimeout(
                        f"gateway writer: {label} not started within {timeout_ms} ms"
                    )
            unit.done.wait(STARTED_GRACE)  # started: its commit decides, wait for it
            if not unit.done.is_set():
                raise WriteGateTimeout(f"gateway writer: {label} started but not committed")
        return self._outcome(unit)

    @staticmethod
    def _outcome(unit: _Unit[T]) -> T:
        if unit.error is not None:
            raise unit.error
        result: T = unit.result
        return result

    def _write_here(self, unit: _Unit[Any]) -> bool:
        """Write an incoming call's unit in the calling thread if the writer is idle.

        Nothing else waiting and no batch in progress: the call's own thread writes its
        batch of one, as the writer's thread would (same gate, connection, commit), and
        answers at once. Handing the unit over would cost two wake-ups, the writer's and
        then the request's, each waiting for the GIL behind the rest of the process (a
        wake-up's p99 was 14 ms in the overflow phase of bench/gateway.py). A call that
        finds the writer busy queues as before and joins its next batch.
        """
        with self._cond:
            if self._busy or self._urgent or self._queue:
                return False
            self._busy = True
            unit.started = True
            self.stats.calls_here += 1
            # The writer's thread gives the kept connection back after a pause (PostgreSQL).
            self._ensure_thread()
        try:
            self._write_batch([unit])
        finally:
            self._idle()
        return True

    def _idle(self) -> None:
        with self._cond:
            self._busy = False
            self._cond.notify()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._loop, name="tgd-gateway-writer", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()  # the writer is busy from here (see ``_next_batch``)
            if not batch and batch is not None:  # idle for a while: the thread ends
                return
            try:
                if batch is None:  # a pause after a burst: PostgreSQL's connection goes back
                    if self._kept is not None:
                        self._kept.close()
                else:
                    self._write_batch(batch)
            finally:
                self._idle()

    def _write_batch(self, batch: list[_Unit[Any]]) -> None:
        """Write ``batch``, tell each unit it ran, put back those a call put off."""
        deferred: list[_Unit[Any]] = []  # not run: an incoming call came first
        try:
            self._write(batch, deferred)
        except BaseException as exc:  # the batch's commit failed: every unit hears it
            for unit in batch:
                if unit.error is None and unit not in deferred:
                    unit.error = exc
        finally:
            self._requeue(deferred)
            for unit in batch:
                if unit not in deferred:
                    unit.done.set()

    def _requeue(self, deferred: list[_Unit[Any]]) -> None:
        """Put units a batch did not run back at the head of the queue, unstarted.

        Only batches of other units are cut short (calls make batches of their own), so
        what comes back is never a call.
        """
        if not deferred:
            return
        with self._cond:
            now = time.monotonic()
            for unit in deferred:
                unit.started = False  # its request may give up again until it starts
                unit.queued_at = now
            self._queue.extendleft(reversed(deferred))

    def _next_batch(self) -> list[_Unit[Any]] | None:
        """The next units to write; None after a pause (see ``_KeptConnection``); [] to end.

        A batch, or None, leaves the writer busy (a call's thread then queues instead of
        writing its own unit), until ``_idle``; a call's own batch in progress is waited for.
        """
        with self._cond:
            while True:
                if self._busy:  # a call's thread is writing its own unit
                    self._cond.wait()
                    continue
                now = time.monotonic()
                batch: list[_Unit[Any]] = []
                # Incoming calls alone in their batch: their commit waits for no callback.
                queue = self._urgent or self._queue
                while queue and len(batch) < MAX_BATCH:
                    unit = queue.popleft()
                    if unit.cancelled:
                        continue
                    if unit.deadline <= now:  # its request is giving up: drop it unwritten
                        unit.cancelled = True
                        unit.error = WriteGateTimeout(f"gateway writer: {unit.label} expired")
                        unit.done.set()
                        self.stats.dropped += 1
                        continue
                    unit.started = True
                    self.stats.queue_seconds += now - unit.queued_at
                    batch.append(unit)
                if batch:
                    self._busy = True
                    return batch
                pausing = self._kept is not None and self._kept.kept_for_a_burst()
                timed_out = not self._cond.wait(
                    _KeptConnection.BUSY_KEEP_SECONDS if pausing else IDLE_EXIT
                )
                if timed_out and not self._queue and not self._urgent and not self._busy:
                    if pausing:
                        self._busy = True  # no call's thread uses the connection meanwhile
                        return None
                    self._thread = None
                    # Under the lock: a unit arriving now starts a thread that opens its own.
                    if self._kept is not None:
                        self._kept.close()
                        self._kept = None
                    return []

    def _write(self, batch: list[_Unit[Any]], deferred: list[_Unit[Any]]) -> None:
        engine = self.platform.engine
        started, cpu = time.monotonic(), time.thread_time()
        deadline = max(unit.deadline for unit in batch)
        wait = max(deadline - started, 0.001)
        gate = gate_for(engine)
        token = gate.acquire(Priority.ALERT, timeout=wait, label=f"gateway x{len(batch)}")
        try:
            pending, collect = batch, True
            while pending:
                pending, collect = self._attempt(engine, pending, deadline, deferred, collect)
        finally:
            gate.release(token)
            self.stats.batch_seconds += time.monotonic() - started
            self.stats.batch_cpu_seconds += time.thread_time() - cpu
        self.stats.batches += 1
        self.stats.units += len(batch) - len(deferred)

    def _attempt(
        self,
        engine: Engine,
        batch: list[_Unit[Any]],
        deadline: float,
        deferred: list[_Unit[Any]],
        collect: bool,
    ) -> tuple[list[_Unit[Any]], bool]:
        """Run and commit the units; if one fails, roll back and return the others to rerun.

        When an incoming call arrives while the batch runs other units, the batch commits
        what it ran and leaves the rest in ``deferred``: the call waits for one unit, not
        for a burst of status callbacks (a batch of 25 of them held the gate 200 ms).

        With ``collect``, the rows the units send to ``tgd.db.batch_rows`` go in together
        before the commit. If that insert fails, no unit can be blamed for it: the batch
        is rolled back and runs again with each unit inserting its own rows (the second
        value returned), so that a failing unit fails alone, as without collecting.
        """
        yielded = len(deferred)
        try:
            with _transaction(self.platform, deadline, self.kept_connection(engine)) as session:
                if collect:
                    batch_rows.attach(session, units=len(batch))
                self._claim_together(session, batch, run=collect)
                for index, unit in enumerate(batch):
                    try:
                        unit.result = unit.work(session)
                    except batch_rows.RowsRefused:  # an ORM flush in the unit inserted them
                        raise
                    except Exception as exc:
                        unit.result = None  # a previous attempt's, rolled back
                        if _is_transient(exc) and not unit.retried:
                            unit.retried = True  # the rollback freed its locks: once more
                        else:
                            unit.error = exc
                        raise _UnitFailed from exc
                    if self._urgent and not unit.urgent and index + 1 < len(batch):
                        deferred.extend(batch[index + 1 :])
                        self.stats.yielded += 1
                        break
                batch_rows.insert_pending(session)
        except _UnitFailed:
            return [unit for unit in batch if unit.error is None], collect
        except batch_rows.RowsRefused as refused:
            log.warning(
                "gateway batch of %d: %s (%s); run again with each unit's own inserts",
                len(batch),
                refused,
                type(refused.__cause__).__name__,
            )
            del deferred[yielded:]  # the rerun decides again which units wait for a call
            return batch, False
        return [], collect

    def _claim_together(self, session: Session, batch: list[_Unit[Any]], *, run: bool) -> None:
        """Claim the batch's calls' receipts by one statement (``alert_rows.claim_together``).

        A failure here belongs to no one unit: like collected rows refused, the batch runs
        again with each unit making its own claim.
        """
        claims = [unit.claim for unit in batch if unit.claim is not None]
        if not claims:
            return
        try:
            alert_rows.claim_together(session, claims, at=self.platform.clock.now(), run=run)
        except Exception as exc:
            raise batch_rows.RowsRefused(f"{len(claims)} claims together refused") from exc


# PostgreSQL's deadlock and serialisation failures: the batch and another writer touched
# the same rows in opposite orders; the server aborted the batch. Run again, it passes.
_TRANSIENT_STATES = frozenset({"40P01", "40001"})


def _is_transient(exc: BaseException) -> bool:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in _TRANSIENT_STATES


class _UnitFailed(Exception):
    """One unit of the batch failed: its transaction is rolled back (see ``_attempt``)."""


def writer_of(platform: Platform) -> GatewayWriter:
    """Return the process's gateway writer for this platform (made on first use)."""
    writer: GatewayWriter | None = getattr(platform, "_gateway_writer", None)
    if writer is None:
        with _writers_lock:
            writer = getattr(platform, "_gateway_writer", None)
            if writer is None:
                writer = GatewayWriter(platform)
                platform._gateway_writer = writer  # type: ignore[attr-defined]
    return writer


_writers_lock = threading.Lock()


def write(
    platform: Platform,
    work: Callable[[Session], T],
    *,
    timeout_ms: int,
    label: str,
    urgent: bool = False,
    claim: IdentifyingClaim | None = None,
) -> T:
    """Run one gateway unit: committed before this returns (E-01), or an error raised."""
    return writer_of(platform).run(
        work, timeout_ms=timeout_ms, label=label, urgent=urgent, claim=claim
    )


class _transaction:
    """One batch's transaction, bounded by the batch's deadline, on the writer's connection.

    The writer keeps its connection between batches (``_KeptConnection``). On SQLite: a
    pool checkout and three ``PRAGMA busy_timeout`` statements per batch (read, set,
    restore) each gave the GIL away, and under a burst the writer waits to take it back
    after every statement. On PostgreSQL: the pool's check at each checkout (a ping, one
    round trip) is skipped for a connection used by the previous batch a moment ago.
    """

    def __init__(self, platform: Platform, deadline: float, kept: _KeptConnection) -> None:
        self.platform, self.deadline, self.kept = platform, deadline, kept

    def __enter__(self) -> Session:
        remaining_ms = max(1, round((self.deadline - time.monotonic()) * 1000))
        self.conn = self.kept.open(remaining_ms)
        self.session = self.platform.sessions(bind=self.conn)
        if self.kept.needs_bounds(remaining_ms):
            # Both bounds in one round trip, for the connection's session: kept by the
            # batches of a burst (none of them pays for it again), reset when the
            # connection goes back to the pool (``_KeptConnection.close``).
            self.session.execute(
                text(
                    "SELECT set_config('lock_timeout', :ms, false), "
                    "set_config('statement_timeout', :ms, false)"
                ),
                {"ms": f"{int(remaining_ms)}ms"},
            )
            self.kept.bounds_ms = remaining_ms
        return self.session

    def __exit__(self, exc_type: Any, exc: Any, _tb: Any) -> None:
        broken = False
        try:
            if exc_type is None:
                self.session.commit()
            else:
                self.kept.bounds_ms = -1  # a rollback takes back what the transaction set
                self.session.rollback()
        except BaseException:
            broken = True
            self.session.rollback()
            raise
        finally:
            self.session.close()
            self.kept.done(broken=broken)


class _KeptConnection:
    """The writer's own connection, kept between batches.

    SQLite: kept while the writer runs, its busy timeout set once. ``busy_timeout`` bounds
    the wait for another process's write lock (a CLI command, a scheduler process) by the
    batch's deadline; it is set again only when that deadline moved by more than
    ``BUSY_SLACK_MS`` (a wait may thus overrun the deadline by that much, against the 4 s
    of ``gateway.record_timeout_ms`` and Twilio's 15 s).

    PostgreSQL: kept from one batch to the next while they follow each other (a burst);
    after ``BUSY_KEEP_SECONDS`` without a unit it goes back to the pool (by the writer,
    between batches), whose ping at checkout finds a connection the server dropped
    meanwhile (a restart, a failover) before a webhook's unit meets it. Its
    ``lock_timeout`` and ``statement_timeout`` follow the batch's deadline the same way as
    SQLite's busy timeout, and are reset before the connection goes back to the pool (the
    pool's other users never wait under the gateway's bounds).

    Either way, a connection whose commit or rollback failed is dropped; the next batch
    opens another.
    """

    BUSY_SLACK_MS = 250
    BUSY_KEEP_SECONDS = 0.25

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.conn: Connection | None = None
        self.busy_ms = -1  # SQLite's busy timeout on the connection (-1: unknown)
        self.bounds_ms = -1  # PostgreSQL's lock and statement timeouts (-1: not set)

    def needs_bounds(self, remaining_ms: int) -> bool:
        """PostgreSQL: whether the batch must set its bounds (they moved, or are unset)."""
        if self.sqlite:
            return False
        return self.bounds_ms < 0 or abs(remaining_ms - self.bounds_ms) > self.BUSY_SLACK_MS

    def kept_for_a_burst(self) -> bool:
        """PostgreSQL: whether a connection is kept, to go back to the pool at a pause."""
        return not self.sqlite and self.conn is not None

    def open(self, remaining_ms: int) -> Connection:
        if self.conn is None or self.conn.closed or self.conn.invalidated:
            options: dict[str, Any] = {WRITER_OPTION: True}
            if self.sqlite:
                options["sqlite_begin"] = "IMMEDIATE"
            self.conn = self.engine.connect().execution_options(**options)
            self.busy_ms = -1
        if self.sqlite and abs(remaining_ms - self.busy_ms) > self.BUSY_SLACK_MS:
            raw = self.conn.connection.dbapi_connection
            assert raw is not None
            raw.execute(f"PRAGMA busy_timeout={int(remaining_ms)}")
            self.busy_ms = remaining_ms
        return self.conn

    def done(self, *, broken: bool) -> None:
        if broken and self.conn is not None:  # its state is unknown: the pool must not reuse it
            self.conn.invalidate()
            self.close()

    def close(self) -> None:
        """Give the connection back to the pool, without the writer's bounds."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            if self.bounds_ms >= 0 and not conn.invalidated:
                conn.exec_driver_sql("RESET lock_timeout")
                conn.exec_driver_sql("RESET statement_timeout")
                conn.commit()
        except Exception:  # its bounds may be left on it: it must not go back to the pool
            log.warning("writer connection not reset; dropped", exc_info=True)
            conn.invalidate()
        finally:
            self.bounds_ms = -1
            try:
                conn.close()
            except Exception:  # already broken: the pool drops it
                log.debug("writer connection close failed", exc_info=True)
