"""The console events' gapless order (E-02), given under the database's write lock.

Consoles resume from ``published_seq``: it must have no gap and follow commit order
(an insert id can commit after a higher one). Numbers are therefore given under a
lock that orders writers:

- On SQLite the database admits one writer at a time, and every write transaction
  takes the lock at ``BEGIN IMMEDIATE`` (``tgd.db.writes``): a transaction that numbers
  its own events just before it commits continues the order of the last one that
  committed, and a rollback takes its numbers with it. ``number_at_commit`` does this
  for every session of the factory: the events are readable, numbered, the moment the
  transaction that added them commits. Publishing them is then a read.
  (The numbering used to be a write transaction of its own, one per publishing pass:
  under the overflow burst of ``bench/gateway.py`` those passes held the write gate
  12 % of the time, and every alert's batch queued behind them.)
- On PostgreSQL writers run in parallel: the hub numbers committed events in a short
  transaction of its own under an advisory lock (``tgd.services.outbox``). On SQLite
  that pass only numbers strays (events added by a session not made by the factory).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Table, Update, event, func, select, update
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from tgd.db.models.operations import ConsoleEvent

_UNNUMBERED = "tgd_console_events_unnumbered"  # session.info: this transaction added events
# session.info: this transaction added events, for the console hub (``dispatch_ui.realtime``)
# to publish once it commits.
EVENTS_ADDED = "tgd_console_events_added"


def numbers_at_commit(dialect_name: str) -> bool:
    """Tell whether events are numbered by the transaction that adds them (SQLite)."""
    return dialect_name == "sqlite"


def number_at_commit(factory: sessionmaker[Session]) -> None:
    """Number, on SQLite, the events each transaction of ``factory`` added, before it commits."""
    event.listen(factory, "after_flush", _note_new_events)
    event.listen(factory, "before_commit", _number_before_commit)
    event.listen(factory, "after_transaction_end", _forget)


def _note_new_events(session: Session, _context: Any) -> None:
    if any(isinstance(obj, ConsoleEvent) for obj in session.new):
        session.info[_UNNUMBERED] = True


def note_inserted(session: Session) -> None:
    """Note events inserted without the ORM (``events.insert_now``): numbered, then published.

    The flush listeners see only ORM objects; an event inserted by a statement of its own
    is noted here for the numbering before the commit (SQLite) and for the hub after it.
    """
    session.info[_UNNUMBERED] = True
    session.info[EVENTS_ADDED] = True


def _number_before_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint's release: the outer commit numbers
        return
    bind = session.get_bind()
    if not numbers_at_commit(bind.dialect.name):
        return
    session.flush()  # before_commit comes before the commit's own flush
    if session.info.pop(_UNNUMBERED, False):
        number_pending(session.connection())


def _forget(session: Session, transaction: SessionTransaction) -> None:
    # The transaction ended: committed, its events were numbered; rolled back, they are gone.
    if transaction.parent is None:
        session.info.pop(_UNNUMBERED, None)


def number_pending(conn: Connection) -> None:
    """Give the unnumbered events the next numbers, in ``seq`` order, published as created.

    Run under the lock that orders writers (see the module's docstring): numbered in the
    transaction that created them, the events are published when it commits.
    """
    conn.execute(_NUMBER)


def numbering(*, published_at: Any, limit: int | None = None) -> Update:
    """One UPDATE that numbers the unnumbered rows ``last + 1…`` in ``seq`` order.

    ``last``, the highest number given, is an uncorrelated subquery of the same
    statement, evaluated once: one statement, not a ``SELECT max`` before it. Under a
    burst the gateway writer waits for the GIL after each statement it runs
    (docs/gateway.md), so a statement less per batch is a wait less. ``limit``: the
    first rows only (the hub's pass on PostgreSQL, ``tgd.services.outbox``).
    """
    table = cast(Table, ConsoleEvent.__table__)
    last = select(func.coalesce(func.max(table.c.published_seq), 0)).scalar_subquery()
    unnumbered = select(
        table.c.seq, func.row_number().over(order_by=table.c.seq).label("offset")
    ).where(table.c.published_seq.is_(None))
    if limit is not None:
        unnumbered = unnumbered.order_by(table.c.seq).limit(limit)
    rows = unnumbered.subquery()
    return (
        update(table)
        .where(table.c.seq == rows.c.seq)
        .values(published_seq=last + rows.c.offset, published_at=published_at)
    )


_NUMBER = numbering(published_at=ConsoleEvent.__table__.c.created_at)
