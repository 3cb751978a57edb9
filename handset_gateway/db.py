"""The gateway's write transactions: short, serialised, bounded in time, committed before answering.

E-01: the carrier gets its answer only after the commit. On SQLite the
transaction starts with ``BEGIN IMMEDIATE`` (writers queue on the lock
instead of failing on a stale read snapshot, so 50 concurrent deliveries
of one ``CallSid`` serialise cleanly, E-03) and waits at most
``gateway.record_timeout_ms`` for the lock; on PostgreSQL ``lock_timeout``
and ``statement_timeout`` bound it the same way. The voice webhook uses
this bound to bridge the caller to the fallback in time when the database
is locked or gone (Twilio allows 15 s in all). The same deadline covers the wait
for a connection: at most ``MAX_WRITERS`` gateway transactions hold one at a time
(writers are serialised by the database anyway), so a burst never exhausts the
pool and never waits for the pool's own 30 s timeout.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from tgd.container import Platform

log = logging.getLogger(__name__)
MAX_WRITERS = 8
_gates: weakref.WeakKeyDictionary[Engine, threading.BoundedSemaphore] = weakref.WeakKeyDictionary()
_gates_lock = threading.Lock()


def _gate(engine: Engine) -> threading.BoundedSemaphore:
    with _gates_lock:
        gate = _gates.get(engine)
        if gate is None:
            gate = _gates[engine] = threading.BoundedSemaphore(MAX_WRITERS)
        return gate


@contextmanager
def write_transaction(platform: Platform, *, timeout_ms: int) -> Iterator[Session]:
    """Run one gateway write: commit on success (before the answer), roll back on any error."""
    engine = platform.engine
    deadline = time.monotonic() + timeout_ms / 1000
    gate = _gate(engine)
    if not gate.acquire(timeout=timeout_ms / 1000):
        raise PoolTimeout("gateway writers: no connection within the record timeout")
    try:
        with _transaction(platform, engine, deadline) as session:
            yield session
    finally:
        gate.release()


@contextmanager
def _transaction(platform: Platform, engine: Engine, deadline: float) -> Iterator[Session]:
    timeout_ms = max(1, round((deadline - time.monotonic()) * 1000))
    conn = engine.connect()
    previous: int | None = None
    try:
        if engine.dialect.name == "sqlite":
            raw = conn.connection.dbapi_connection
            assert raw is not None
            cursor = raw.cursor()
            previous = int(cursor.execute("PRAGMA busy_timeout").fetchone()[0])
            cursor.execute(f"PRAGMA busy_timeout={int(timeout_ms)}")
            cursor.close()
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        session = platform.sessions(bind=conn)
        try:
            if engine.dialect.name == "postgresql":
                ms = int(timeout_ms)
                session.execute(text(f"SET LOCAL lock_timeout = {ms}"))
                session.execute(text(f"SET LOCAL statement_timeout = {ms}"))
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
    finally:
        if previous is not None:
            try:
                raw = conn.connection.dbapi_connection
                if raw is not None:
                    raw.execute(f"PRAGMA busy_timeout={previous}")
            except Exception:  # a broken connection is dropped from the pool below
                conn.invalidate()
        conn.close()
