"""The write discipline (E-01, R-21): one writer at a time per database, alerts first.

The rule, for every writer (web requests, webhooks, CLI commands, jobs, the audit
sealer, the console outbox, escalation): **a unit of work holds at most one write
transaction at a time, and a write transaction does no network I/O and no slow
computation.** Anything else that must be written (a session refresh, an audit entry
of a refusal, a job's run record) joins that transaction or runs after it ends.

Every write transaction starts here (``begin_write``, ``write_transaction``,
``write_connection``). Before it checks out a connection it takes the database's
*write gate*: on SQLite, where the database itself admits one writer, the gate admits
one holder per process and hands it over by priority (``Priority.ALERT`` first: a
carrier webhook waits only for the transaction in progress, never behind a queue of
people's clicks or jobs), then in arrival order; the holder then takes the database's
file lock, shared with the writers of other processes (a CLI command, a scheduler
process: ``tgd.db.process_lock``), and ``BEGIN IMMEDIATE`` finds SQLite's own lock free.
On PostgreSQL writers run in parallel; the gate only bounds how many hold a pooled
connection at once, with the same priorities.

The gate enforces the rule by code. A thread that already holds a write transaction
and asks for another gets ``WriteDisciplineError`` at once: on SQLite that second
writer would wait for the first, which waits for its own thread, until the busy
timeout (the stall that lost an alert). A ``INSERT``/``UPDATE``/``DELETE`` run in a
transaction that did not start here is reported as a violation (``ERROR`` log, and an
exception on a strict engine): on SQLite such a transaction fails at random with
``SQLITE_BUSY_SNAPSHOT`` as soon as another writer committed after its first read.
Holding the gate longer than ``SLOW_HOLD`` is logged with the unit of work's label,
so a long writer is found by reading the log, not by losing an alert.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from tgd.calls_first import let_calls_pass
from tgd.db.process_lock import ProcessLock

log = logging.getLogger(__name__)

TOKEN_KEY = "tgd_write_token"  # noqa: S105 - a session.info key, not a secret
WRITER_OPTION = "tgd_writer"
SLOW_HOLD = 0.05  # seconds: a write transaction longer than this is logged
DEFAULT_TIMEOUT = 30.0  # seconds a writer waits for the gate before giving up
_DML = re.compile(r"\s*(?:--[^\n]*\n\s*)*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class Priority(enum.IntEnum):
    """Who goes first when several writers wait (lower first)."""

    ALERT = 0  # carrier webhooks and terminal data: an alert is never queued behind people
    PEOPLE = 1  # people's actions, escalation, console outbox numbering
    BACKGROUND = 2  # jobs, CLI commands, audit sealing


class WriteDisciplineError(RuntimeError):
    """Code broke the write discipline (a second writer in one unit of work, a hidden write)."""


class WriteGateTimeout(TimeoutError):
    """No write slot within the waiting time: the database is busy or stalled."""


@dataclass
class WriteToken:
    """A held slot of the gate, released when the transaction ends."""

    gate: WriteGate
    thread: int
    priority: Priority
    label: str
    taken_at: float
    released: bool = False
    across_processes: bool = False  # holds the database's file lock too
    # The holder thread's CPU clock when its hold began: a slow hold's log then tells a
    # transaction that worked from one whose thread waited (for the GIL, the disk, a host).
    ran_from: float | None = None


@dataclass
class GateStats:
    """Counters for benchmarks and ``/metrics``: waits and holds, in seconds."""

    acquired: int = 0
    timeouts: int = 0
    slow_holds: int = 0
    violations: int = 0
    max_wait: dict[Priority, float] = field(default_factory=dict)
    max_hold: float = 0.0
    # Time the gate was held, by holder (the unit of work's label without its batch size):
    # rate(hold_seconds) is the share of the time each kind of writer keeps the others out.
    holds: dict[str, int] = field(default_factory=dict)
    hold_seconds: dict[str, float] = field(default_factory=dict)
    # Time writers waited for the gate, by priority: what an alert waits behind.
    waits: dict[Priority, int] = field(default_factory=dict)
    wait_seconds: dict[Priority, float] = field(default_factory=dict)
    # Time writers waited for a writer of another process (SQLite's file lock).
    process_waits: int = 0
    process_wait_seconds: float = 0.0

    def count_hold(self, label: str, held: float) -> None:
        """Add one hold of the gate (called under the gate's lock)."""
        holder = holder_of(label)
        self.holds[holder] = self.holds.get(holder, 0) + 1
        self.hold_seconds[holder] = self.hold_seconds.get(holder, 0.0) + held


def _ran(token: WriteToken) -> str:
    """``; its thread ran N ms of it``: the holder's CPU over its hold, told by the holder."""
    if token.ran_from is None or token.thread != threading.get_ident():
        return ""
    return f"; its thread ran {(time.thread_time() - token.ran_from) * 1000:.0f} ms of it"


def holder_of(label: str) -> str:
    """Name a writer for the metrics: its label without a batch's size (``gateway x5``)."""
    return _BATCH_SIZE.sub("", label) or "unlabelled"


_BATCH_SIZE = re.compile(r" x\d+$")


@dataclass(eq=False)
class _Waiter:
    priority: int
    ticket: int
    thread: int
    label: str
    event: threading.Event = field(default_factory=threading.Event)
    token: WriteToken | None = None  # set by the releaser that hands the slot over
    cancelled: bool = False

    def __lt__(self, other: _Waiter) -> bool:
        return (self.priority, self.ticket) < (other.priority, other.ticket)


class WriteGate:
    """Admit ``capacity`` write transactions at a time, by priority then arrival order.

    A released slot is handed straight to the first waiter (its own event), so a queue of
    waiting writers costs nothing: no thundering herd of threads fighting for the GIL
    while the holder is trying to finish. With a ``process_lock`` (SQLite), the holder
    then waits for the writers of other processes too.
    """

    def __init__(
        self, name: str, *, capacity: int, process_lock: ProcessLock | None = None
    ) -> None:
        self.name = name
        self.capacity = capacity
        self.process_lock = process_lock
        self._lock = threading.Lock()
        self._holders: dict[int, WriteToken] = {}
        self._queue: list[_Waiter] = []
        self._tickets = itertools.count()
        self.stats = GateStats()

    def acquire(
        self, priority: Priority, *, timeout: float | None = None, label: str = ""
    ) -> WriteToken:
        """Wait for a slot; refuse a second one to the same thread (the discipline).

        Anyone but the gateway writer first steps aside for the incoming calls being
        taken in this process (``tgd.calls_first``).
        """
        me = threading.get_ident()
        if priority != Priority.ALERT:
            let_calls_pass()
        started = time.monotonic()
        wait = DEFAULT_TIMEOUT if timeout is None else timeout
        with self._lock:
            held = self._holders.get(me)
            if held is not None:
                self.stats.violations += 1
                raise WriteDisciplineError(
                    f"{label or 'a unit of work'} asked for a second write transaction while "
                    f"holding one ({held.label or 'unlabelled'}): join it or wait for its end"
                )
            if len(self._holders) < self.capacity and not self._queue:
                token: WriteToken | None = self._grant(me, priority, label)
            else:
                token, waiter = None, _Waiter(int(priority), next(self._tickets), me, label)
                heapq.heappush(self._queue, waiter)
        if token is None:
            waiter.event.wait(max(wait, 0.0))
            with self._lock:
                token = waiter.token
                if token is None:  # not handed over in time
                    waiter.cancelled = True
                    self.stats.timeouts += 1
                    raise WriteGateTimeout(
                        f"no write slot on {self.name} within {wait:.1f} s for "
                        f"{label or 'a writer'}"
                    )
        self._wait_for_other_processes(token, started + wait)
        with self._lock:
            self._count(priority, time.monotonic() - started)
        token.ran_from = time.thread_time()
        return token

    def _wait_for_other_processes(self, token: WriteToken, deadline: float) -> None:
        """Take the database's file lock within the deadline, or give the slot back."""
        if self.process_lock is None:
            return
        started = time.monotonic()
        try:
            taken = self.process_lock.acquire(max(deadline - started, 0.0))
        except BaseException:  # the lock file cannot be opened, an interrupt: slot back
            self._give_back(token, count=False)
            raise
        waited = time.monotonic() - started
        with self._lock:
            self.stats.process_waits += 1
            self.stats.process_wait_seconds += waited
            if not taken:
                self.stats.timeouts += 1
        if not taken:
            self._give_back(token, count=False)
            raise WriteGateTimeout(
                f"{token.label or 'a writer'} found {self.name} held by another process "
                f"for {waited:.1f} s"
            )
        token.across_processes = True
        token.taken_at = time.monotonic()  # its hold starts now: the wait was another's

    def release(self, token: WriteToken) -> None:
        """Give the slot back (idempotent) and hand it to the first waiter."""
        self._give_back(token, count=True)

    def _give_back(self, token: WriteToken, *, count: bool) -> None:
        with self._lock:
            if token.released:
                return
            token.released = True
            if token.across_processes and self.process_lock is not None:
                self.process_lock.release()
            if count:
                self.stats.count_hold(token.label, time.monotonic() - token.taken_at)
            if self._holders.get(token.thread) is token:
                del self._holders[token.thread]
            while self._queue and len(self._holders) < self.capacity:
                waiter = heapq.heappop(self._queue)
                if waiter.cancelled:
                    continue
                waiter.token = self._grant(waiter.thread, Priority(waiter.priority), waiter.label)
                waiter.event.set()
        if not count:
            return
        held = time.monotonic() - token.taken_at
        self.stats.max_hold = max(self.stats.max_hold, held)
        if held > SLOW_HOLD:
            self.stats.slow_holds += 1
            log.warning(
                "write transaction held the %s write gate for %.0f ms (%s)%s",
                self.name,
                held * 1000,
                token.label or "unlabelled",
                _ran(token),
            )

    def _grant(self, thread: int, priority: Priority, label: str) -> WriteToken:
        token = WriteToken(self, thread, priority, label, time.monotonic())
        self._holders[thread] = token
        return token

    def _count(self, priority: Priority, waited: float) -> None:
        self.stats.acquired += 1
        self.stats.waits[priority] = self.stats.waits.get(priority, 0) + 1
        self.stats.wait_seconds[priority] = self.stats.wait_seconds.get(priority, 0.0) + waited
        if waited > self.stats.max_wait.get(priority, 0.0):
            self.stats.max_wait[priority] = waited

    def holds(self) -> bool:
        """Tell whether the calling thread holds a write transaction on this database."""
        with self._lock:
            return threading.get_ident() in self._holders


_gates: dict[str, WriteGate] = {}
_gates_lock = threading.Lock()


def database_key(engine: Engine) -> str:
    """Name the database itself, so every engine of a process on it shares one gate."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"sqlite:{url.database or ':memory:'}"
    return url.set(password=None).render_as_string(hide_password=True)


def gate_for(engine: Engine) -> WriteGate:
    """Return the write gate of the engine's database (one per database per process)."""
    key = database_key(engine)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = _new_gate(engine, key)
        return gate


def _new_gate(engine: Engine, key: str) -> WriteGate:
    if engine.dialect.name != "sqlite":
        return WriteGate(key, capacity=max_writers(engine))
    database = engine.url.database or ":memory:"
    on_disk = database != ":memory:" and not database.startswith("file:")
    return WriteGate(
        key, capacity=1, process_lock=ProcessLock.beside(database) if on_disk else None
    )


def max_writers(engine: Engine) -> int:
    """PostgreSQL: writers in parallel, at most half the pool so readers always get one."""
    size = getattr(engine.pool, "size", lambda: 10)()
    return max(2, int(size) // 2)


def holds_write(engine: Engine) -> bool:
    """Tell whether the calling thread holds a write transaction on the engine's database."""
    return gate_for(engine).holds()


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def is_writer(session: Session) -> bool:
    """Tell whether the session's current transaction is a write transaction."""
    token: WriteToken | None = session.info.get(TOKEN_KEY)
    return token is not None and not token.released


def excludes_other_writers(session: Session) -> bool:
    """Tell whether the session's transaction keeps every other writer out until it ends.

    A SQLite write transaction begins with ``BEGIN IMMEDIATE``: what it reads cannot be
    written by anyone else before it commits, so a read-then-insert in it cannot race.
    PostgreSQL's writers run side by side: there, the insert must expect a conflict.
    """
    connection = session.connection()
    return (
        connection.dialect.name == "sqlite"
        and connection.get_execution_options().get("sqlite_begin") == "IMMEDIATE"
    )


def begin_write(
    session: Session,
    *,
    priority: Priority = Priority.PEOPLE,
    timeout: float | None = None,
    label: str = "",
) -> None:
    """Start the session's next transaction as a writer: gate first, then ``BEGIN IMMEDIATE``.

    Call before the transaction's first statement; a no-op when the session already
    writes. On SQLite, a transaction that reads, then writes after another writer
    committed, fails at once (``SQLITE_BUSY_SNAPSHOT``): taking the lock first avoids it.
    """
    if is_writer(session):
        return
    if session.in_transaction():
        raise WriteDisciplineError(
            f"{label or 'a unit of work'} began writing in a transaction that started as a "
            "reader: end it (commit) first, or begin it as a writer"
        )
    token = gate_for(_engine_of(session)).acquire(priority, timeout=timeout, label=label)
    session.info[TOKEN_KEY] = token
    try:
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE", WRITER_OPTION: True})
    except BaseException:
        release_session(session)
        raise


def release_session(session: Session) -> None:
    """Give back the session's write slot, if it holds one."""
    token: WriteToken | None = session.info.pop(TOKEN_KEY, None)
    if token is not None:
        token.gate.release(token)


@contextmanager
def write_transaction(
    sessions: sessionmaker[Session],
    *,
    priority: Priority = Priority.BACKGROUND,
    timeout: float | None = None,
    label: str = "",
) -> Iterator[Session]:
    """Run one short write transaction in a session of its own, committed at the end."""
    session = sessions()
    try:
        begin_write(session, priority=priority, timeout=timeout, label=label)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def write_connection(
    engine: Engine,
    *,
    priority: Priority = Priority.BACKGROUND,
    timeout: float | None = None,
    label: str = "",
) -> Iterator[Connection]:
    """Run one short Core-level write transaction (the audit sealer, the outbox numbering)."""
    gate = gate_for(engine)
    token = gate.acquire(priority, timeout=timeout, label=label)
    try:
        conn = engine.connect().execution_options(sqlite_begin="IMMEDIATE", **{WRITER_OPTION: True})
        with conn, conn.begin():
            yield conn
    finally:
        gate.release(token)


@event.listens_for(Session, "after_transaction_end")
def _release_at_end(session: Session, transaction: SessionTransaction) -> None:
    # After the root transaction's COMMIT or ROLLBACK has reached the database: the next
    # writer may begin at once.
    if transaction.parent is None:
        release_session(session)


def watch_engine(engine: Engine, *, strict: bool) -> None:
    """Report writes made outside a write transaction (raise on a strict engine)."""

    @event.listens_for(engine, "before_cursor_execute")
    def _check(
        conn: Connection,
        _cursor: Any,
        statement: str,
        _params: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        if conn.get_execution_options().get(WRITER_OPTION) or not _DML.match(statement):
            return
        gate_for(engine).stats.violations += 1
        message = (
            "write discipline: "
            + statement.split(None, 3)[0].upper()
            + " outside a write transaction (start it with begin_write/write_transaction)"
        )
        if strict:
            raise WriteDisciplineError(message)
        log.error(message, stack_info=True)
