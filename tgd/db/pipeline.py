"""PostgreSQL: a transaction in psycopg's pipeline mode, a round trip only where a result is read.

Each statement sent outside a pipeline is a round trip, and its thread then waits to take
the GIL back behind the rest of the process: under a burst that wait costs more than the
statement (``docs/gateway.md``). psycopg's pipeline mode queues statements and sends them
together, their results received at the next *sync*. So in a pipelined transaction
(``pipelined``):

- the ``BEGIN`` psycopg opens it with goes with its first statement (one round trip
  instead of two);
- a statement whose result is not read, marked with the execution option ``QUEUED``
  (a leg's update, a call's rows, a batch's collected rows), is queued and sent with the
  next one that syncs;
- every other statement syncs at once (SQLAlchemy reads its rows, its row count or the
  keys it returns right after executing it), with what was queued before it;
- the ``COMMIT`` syncs what is still queued.

A batch of one status callback was five round trips (``BEGIN``, its leg read, the leg's
update, its console event, ``COMMIT``) and is two; an incoming call from a known line four
(``BEGIN``, the receipt's claim, its rows, ``COMMIT``), and two.

**A queued statement's error surfaces at the next sync**: a later statement or the commit
raises it, possibly in another unit of the batch. Whoever runs a pipelined transaction
must therefore not blame the statement that raised: the gateway writer runs the batch
again without the pipeline (``handset_gateway.db``), where each error is its statement's.

Outside a pipelined transaction ``QUEUED`` changes nothing; SQLite has no pipeline.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine.interfaces import ExecutionContext
from sqlalchemy.exc import DBAPIError

QUEUED = "tgd_queued"  # execution option: nobody reads this statement's result
QUEUED_OPTIONS = {QUEUED: True}  # ``Connection.execute(..., execution_options=...)``
# psycopg connection -> the pipeline of its pipelined transaction (``pipelined``).
_pipelines: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def install(engine: Engine) -> None:
    """Let ``engine``'s connections run pipelined transactions (PostgreSQL; else nothing)."""
    if not supported(engine):
        return
    event.listen(engine, "do_execute", _execute, retval=True)
    event.listen(engine, "do_execute_no_params", _execute_no_params, retval=True)
    event.listen(engine, "do_executemany", _executemany, retval=True)


def supported(engine: Engine) -> bool:
    """Tell whether ``engine``'s connections can run pipelined transactions."""
    return engine.dialect.name == "postgresql"


@contextmanager
def pipelined(connection: Connection) -> Iterator[None]:
    """Run what ``connection`` executes in this block in one pipeline (see the module).

    Enter it before the transaction's first statement and leave it after its commit or
    rollback: the commit syncs; leaving the block syncs what a failure left queued.
    """
    raw: Any = connection.connection.dbapi_connection
    with raw.pipeline() as pipeline:
        _pipelines[raw] = pipeline
        try:
            yield
        finally:
            _pipelines.pop(raw, None)


def statement_failed(connection: Connection) -> bool:
    """Tell whether a statement failed in ``connection``'s transaction (it is aborted).

    After a pipelined commit raised: a queued statement's error (the transaction aborted,
    its ``COMMIT`` not run), not the commit's own (the transaction over, or the
    connection lost).
    """
    raw: Any = connection.connection.dbapi_connection
    pipeline = _pipelines.get(raw)
    if pipeline is not None:
        # The error may have been raised before the server's answer to the sync was read
        # (the connection still busy): read it.
        with contextlib.suppress(psycopg.Error):
            pipeline.sync()
    return bool(raw.info.transaction_status == psycopg.pq.TransactionStatus.INERROR)


def roll_back(connection: Connection) -> None:
    """Roll back the DBAPI connection's transaction, which SQLAlchemy may deem over.

    Raises SQLAlchemy's ``DBAPIError`` if that fails.
    """
    raw: Any = connection.connection.dbapi_connection
    try:
        raw.rollback()
    except psycopg.Error as exc:
        raise DBAPIError("ROLLBACK", None, exc) from exc


def _pipeline_of(cursor: Any) -> Any:
    # By the DBAPI connection: SQLAlchemy's ``Connection.info`` is not there for the
    # dialect's first statements on a new connection.
    return _pipelines.get(cursor.connection) if _pipelines else None


def _execute(cursor: Any, statement: str, parameters: Any, context: ExecutionContext) -> Any:
    pipeline = _pipeline_of(cursor)
    if pipeline is None:
        return None  # SQLAlchemy executes it as always
    cursor.execute(statement, parameters)
    if not _queued(context):
        pipeline.sync()  # its result is read next: it and everything queued go now
    return True


def _queued(context: ExecutionContext) -> bool:
    if not context.execution_options.get(QUEUED, False):
        return False
    # An INSERT SQLAlchemy makes return its key (implicit returning) reads it at once.
    compiled: Any = context.compiled
    return compiled is None or not compiled.effective_returning


def _execute_no_params(cursor: Any, statement: str, context: ExecutionContext) -> Any:
    pipeline = _pipeline_of(cursor)
    if pipeline is None:
        return None
    cursor.execute(statement)
    pipeline.sync()
    return True


def _executemany(cursor: Any, statement: str, parameters: Any, context: ExecutionContext) -> Any:
    pipeline = _pipeline_of(cursor)
    if pipeline is None:
        return None
    cursor.executemany(statement, parameters)
    if not _queued(context):
        pipeline.sync()
    return True
