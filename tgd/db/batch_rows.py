"""Rows a gateway batch inserts together just before it commits: one statement per table.

Under a burst the gateway writer's thread gives the GIL away at every statement (SQLite's
module and psycopg release it while the database works) and then waits to take it back
behind the request threads; each hand-over also costs it CPU (caches refilled, a futex
wake). Measured with one voice unit at a time in batches of 20, while four other threads
of the process were busy (docs/gateway.md, "Each statement of a batch costs a hand-over of
the GIL"): the unit's own thread CPU went from 0.65-0.73 to 1.41-1.92 ms and its wall time
to 6-9 ms, and leaving out the three inserts nobody reads back (an alert's caller leg, its
console event, its audit entry) took about 0.45 ms of that CPU and 2.5 ms of that wall away.

So a session that carries a ``BatchRows`` (``attach``: the gateway writer's batches only)
collects those rows instead of inserting each at once, and ``insert_pending`` inserts them
as one multi-row ``INSERT`` per table and set of columns, before the commit. The rows also
go in before any ORM flush or ORM query of the same session: a console event the ORM adds
after one collected here still comes after it, and an ORM read (a lazy load of an alert's
legs) finds them. A module sends here only rows that no statement of its own reads back
in the batch: events and audit entries are read by the console hub and the sealer after
the commit; a caller's leg by its call's later callbacks, which never share a batch with
its voice unit (calls make batches of their own, and are answered after their commit).

Any other session inserts at once, as before: ``insert`` falls back to the statement given.

Several rows go in as one statement (``execute_rows``). On SQLite, an ``executemany`` of
the table's INSERT with ``RETURNING`` its key: SQLAlchemy sends that as one multi-row
``INSERT`` per page of rows ("insertmanyvalues"), from the single-row statement compiled
once. Before, a multi-row ``INSERT`` built from the rows' values was compiled anew on
every batch (SQLAlchemy cannot cache one), the writer's largest item under a closed loop
of calls (about 8 % of the process's GIL time); a plain ``executemany`` steps once per
row on SQLite, each step a hand-over of the GIL. Twenty events: 1.0 ms of CPU compiled
each time, 0.19 ms so (docs/gateway.md). On PostgreSQL, a plain ``executemany``, which
psycopg sends as one pipeline: the multi-row statement's text had to be converted to
PostgreSQL's placeholders on every batch (psycopg caches no statement of more than 50
parameters), 16 % of the process's GIL time at saturation; twenty rows of 33 columns
cost 3.8 ms of CPU that way and 1.2 ms so, with the commit (docs/gateway.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Insert, Table, event
from sqlalchemy.orm import ORMExecuteState, Session

_KEY = "tgd_batch_rows"  # session.info: the batch's collected rows
_returning: dict[Insert, Insert] = {}  # a table's INSERT -> the same, returning its key


class BatchRows:
    """The rows of one batch's units waiting for one insert per table and set of columns."""

    def __init__(self, units: int = 1) -> None:
        self.units = units  # the units of the batch sending rows here
        self._rows: dict[tuple[Insert, tuple[str, ...]], list[dict[str, Any]]] = {}
        self._drawn: dict[Table, int] = {}  # a table's last key drawn in this batch
        self.inserts_keyed_by_database = 0  # see ``keyed_by_database``

    def add(self, statement: Insert, row: Mapping[str, Any]) -> None:
        self._rows.setdefault((statement, tuple(row)), []).append(dict(row))

    def draw(self, table: Table, first_free: int) -> int:
        """The key of a row of ``table`` to collect, ``first_free`` being the table's next.

        The rows drawn before it in the batch may still wait here, unseen by the
        database: each draw takes the next after them.
        """
        last = self._drawn.get(table)
        key = first_free if last is None else max(first_free, last + 1)
        self._drawn[table] = key
        return key

    def __bool__(self) -> bool:
        return bool(self._rows)

    def insert(self, session: Session) -> None:
        """Insert every row collected: referenced tables first, each table's groups in order."""
        groups, self._rows = self._rows, {}
        connection = session.connection()
        try:
            for (statement, _columns), rows in sorted(groups.items(), key=_referenced_first):
                execute_rows(connection, statement, rows)
        except Exception as exc:  # whose row it was is unknown: the batch decides
            raise RowsRefused(f"{len(groups)} group(s) of collected rows refused") from exc


_ranks: dict[Table, int] = {}  # a table's place in its metadata's dependency order


def _referenced_first(group: tuple[tuple[Insert, tuple[str, ...]], Any]) -> int:
    # A batch's alert and its caller's leg are collected in that order, but a leg of an
    # earlier unit may have started the legs' group: the alerts' still go in first, so
    # that each leg finds its alert (foreign keys are checked at each statement). The
    # sort is stable: groups of one table keep their order (console events' sequence).
    table = cast(Table, group[0][0].table)
    rank = _ranks.get(table)
    if rank is None:  # built once per metadata; a race builds it twice, the same
        _ranks.update((t, i) for i, t in enumerate(table.metadata.sorted_tables))
        rank = _ranks[table]
    return rank


def execute_rows(
    connection: Connection, statement: Insert, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``rows`` by ``statement`` (a plain INSERT of a table): one round trip for them all.

    SQLite: several rows are an ``executemany`` with ``RETURNING`` the table's key, which
    SQLAlchemy sends as one multi-row ``INSERT`` per page, compiled once: one step, one
    hand-over of the GIL, for them all; the keys returned are not read. PostgreSQL: an
    ``executemany``, one pipeline. No rows, no statement.
    """
    if not rows:
        return
    if len(rows) == 1:
        connection.execute(statement, rows[0])
        return
    if connection.dialect.name == "postgresql":
        # psycopg sends an executemany as one pipeline: one round trip, and the one-row
        # statement converted once (its conversion is cached). The multi-row statement
        # is converted anew every time: psycopg caches none over 50 parameters.
        connection.execute(statement, rows)
        return
    returning = _returning.get(statement)
    if returning is None:  # a race builds it twice, the same: harmless
        key = cast(Table, statement.table).primary_key.columns
        returning = _returning[statement] = statement.returning(*key)
    connection.execute(returning, rows).close()


class RowsRefused(Exception):
    """The database refused a batch's collected rows; no one unit's rows can be blamed."""


def attach(session: Session, *, units: int = 1) -> None:
    """Make ``session`` collect the rows sent to ``insert`` until ``insert_pending``.

    ``units``: how many units the batch runs in this session (``several_units``).
    """
    session.info[_KEY] = BatchRows(units)


def several_units(session: Session) -> bool:
    """Tell whether ``session`` collects rows for a batch of more than one unit.

    A unit that could insert its rows at once in a single statement (PostgreSQL's alert,
    ``alert_rows.insert_at_once``) does so when it is alone; among several, its rows go
    in with the others', one statement per table for the batch.
    """
    collected: BatchRows | None = session.info.get(_KEY)
    return collected is not None and collected.units > 1


def insert(session: Session, statement: Insert, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` by ``statement`` (a plain INSERT of a table), now or with the batch.

    Only for rows nothing in the same transaction reads back before the commit.
    """
    collected: BatchRows | None = session.info.get(_KEY)
    if collected is None:
        execute_rows(session.connection(), statement, rows)
        return
    for row in rows:
        collected.add(statement, row)


def draw_key(session: Session, table: Table, first_free: int) -> int:
    """The key of a new row of ``table`` whose insert may be collected (``insert``).

    ``first_free``: the key the database gives the table's next row (SQLite: one more
    than the largest, read inside the batch's write transaction, which keeps every other
    writer out). Without a collection the rows are in the database already: that one.
    """
    collected: BatchRows | None = session.info.get(_KEY)
    return first_free if collected is None else collected.draw(table, first_free)


def keyed_by_database(session: Session) -> int:
    """How many inserts of the session's batch may have let the database give a key.

    Each ORM flush, and each insert of a row without a key drawn here
    (``note_keyed_by_database``): such a row takes the key the database gives (SQLite:
    one more than the largest), maybe beyond a ``first_free`` read before it, which must
    then be read again. 0 outside a batch.
    """
    collected: BatchRows | None = session.info.get(_KEY)
    return 0 if collected is None else collected.inserts_keyed_by_database


def note_keyed_by_database(session: Session) -> None:
    """Count an insert of the session's batch whose row takes the database's next key."""
    collected: BatchRows | None = session.info.get(_KEY)
    if collected is not None:
        collected.inserts_keyed_by_database += 1


def insert_pending(session: Session) -> None:
    """Insert what the session's batch collected (before its commit); nothing if none."""
    rows: BatchRows | None = session.info.get(_KEY)
    if rows:
        rows.insert(session)


@event.listens_for(Session, "before_flush")
def _before_orm_flush(session: Session, _context: Any, _instances: Any) -> None:
    # The ORM's rows of this flush come after the rows collected before them.
    note_keyed_by_database(session)
    insert_pending(session)


@event.listens_for(Session, "do_orm_execute")
def _before_orm_statement(state: ORMExecuteState) -> None:
    # An ORM query (a relationship's lazy load included) sees the rows collected so far,
    # as it would have seen them inserted at once; a query of the clean session's own
    # flush would not have inserted them (no ``before_flush`` when nothing is dirty).
    insert_pending(state.session)
