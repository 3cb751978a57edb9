"""Engine and session factory shared by the web app, the gateway, jobs and the CLI.

E-01: on SQLite every connection runs in WAL mode with ``synchronous=FULL`` (an
alert committed is on disk before the carrier gets its answer),
``secure_delete`` (deleted rows are overwritten, R-52) and foreign keys on;
``check_durability`` refuses to start when the database does not hold them.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Connection, Engine, bindparam, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from tgd.db.outbox_order import number_at_commit
from tgd.db.writes import watch_engine

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA secure_delete=ON",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


SLOW_COMMIT = 0.05  # seconds: a commit longer than this is logged (the disk's sync)

T = TypeVar("T")
log = logging.getLogger(__name__)


class DurabilityError(RuntimeError):
    """The database is not set up to keep every committed alert (E-01)."""


def make_engine(
    url: str,
    *,
    sqlite_foreign_keys: bool = True,
    watch_writes: bool = True,
    strict_writes: bool = False,
    **kwargs: Any,
) -> Engine:
    """Create an engine with the durability settings of E-01 and the write discipline.

    ``sqlite_foreign_keys=False`` is for migrations only: SQLite rebuilds a table to alter
    it, which foreign keys would forbid; the migration checks them at the end instead.
    ``watch_writes`` reports writes made outside a write transaction (``tgd.db.writes``);
    ``strict_writes`` turns that report into an exception.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # Connections are cheap file handles; every server thread may read at once, and
        # writers wait at the write gate before they take one, so the pool never runs dry.
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 200)
        kwargs.setdefault("pool_timeout", 10)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        if not sqlite_foreign_keys:
            event.listen(engine, "connect", _sqlite_foreign_keys_off)
        event.listen(engine, "begin", _sqlite_on_begin)
    else:
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_timeout", 10)
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
    _log_slow_commits(engine)
    if watch_writes:
        watch_engine(engine, strict=strict_writes)
    return engine


def make_quick_read_engine(engine: Engine) -> Engine | None:
    """PostgreSQL: an engine for the one-statement reads of a hot path, one round trip each.

    A read through the platform's pool takes four: the pool's ping at checkout (``BEGIN``
    then ``SELECT 1``: the driver opens a transaction before its first statement), the
    read, the ``ROLLBACK``. Here a read runs in autocommit, without the ping: a connection
    the server dropped fails its read instead, and ``once_more_if_dropped`` runs it again
    on a new one. The console hub reads this way before every delivery (docs/console.md).
    None on SQLite, where a read is a call into the process's own library.
    """
    if engine.dialect.name == "sqlite":
        return None
    return make_engine(
        engine.url.render_as_string(hide_password=False),
        pool_size=2,
        max_overflow=4,
        pool_pre_ping=False,
        isolation_level="AUTOCOMMIT",
    )


def once_more_if_dropped(read: Callable[[], T]) -> T:
    """Run ``read``; run it once more if its connection had been dropped by the server."""
    try:
        return read()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        return read()


def begin_with_advisory_lock(conn: Connection, key: int) -> None:
    """PostgreSQL: take a transaction-scoped advisory lock as the transaction's first statement.

    With psycopg the driver's ``BEGIN`` and the lock leave together in one pipeline: one
    round trip where they took two. On a connection the server dropped it fails, and the
    rollback that follows reports the connection dropped, as any statement would
    (``once_more_if_dropped`` runs the transaction again).
    """
    driver = conn.connection.driver_connection
    if isinstance(driver, psycopg.Connection) and psycopg.Pipeline.is_supported():
        with driver.pipeline():
            driver.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        return
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _log_slow_commits(engine: Engine) -> None:
    """Log a commit that took long, with what its thread ran meanwhile.

    With ``synchronous=FULL`` (E-01) a SQLite commit returns once the WAL is synced to
    disk: under the gateway bench, commits of a single webhook took 47–364 ms while their
    thread ran 0–1 ms, with SQLite's checkpoints switched off as with them on. The slow
    write-gate holds of those moments were the disk's, not the process's; this line says
    so in the log. PostgreSQL's commit waits for its WAL's flush in the same way
    (``synchronous_commit`` on), and is logged alike. ``do_commit`` is the dialect's one
    place where the DBAPI commits.
    """
    dialect = engine.dialect
    commit = dialect.do_commit
    name = engine.url.database or "sqlite"

    def timed(dbapi_connection: Any) -> None:
        started, ran = time.monotonic(), time.thread_time()
        commit(dbapi_connection)
        took = time.monotonic() - started
        if took > SLOW_COMMIT:
            log.warning(
                "commit on %s took %.0f ms, its thread ran %.0f ms of it (the disk's sync)",
                name,
                took * 1000,
                (time.thread_time() - ran) * 1000,
            )

    dialect.do_commit = timed  # type: ignore[method-assign]  # one engine's dialect only


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Python's sqlite3 opens transactions itself; let SQLAlchemy issue BEGIN.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _sqlite_foreign_keys_off(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA foreign_keys=OFF")


def _sqlite_on_begin(conn: Connection) -> None:
    # pysqlite's own transaction handling is off (above), so open the transaction here.
    # A connection opened with execution_options(sqlite_begin="IMMEDIATE") takes the write
    # lock at once: short writers that read-then-write (the audit sealer) never hit
    # SQLITE_BUSY_SNAPSHOT.
    mode = conn.get_execution_options().get("sqlite_begin", "")
    conn.exec_driver_sql(f"BEGIN {mode}".strip())


# RETURNING (SQLite 3.35): a webhook's receipt is claimed with it (``alert_rows``); on an
# older SQLite every alert's write would fail, and only the spool would keep the calls.
SQLITE_MINIMUM = (3, 35, 0)


def check_durability(engine: Engine) -> None:
    """Refuse to run on a database that could lose or leave behind data (E-01)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            version = str(conn.exec_driver_sql("SELECT sqlite_version()").scalar())
            if tuple(int(part) for part in version.split(".")[:3]) < SQLITE_MINIMUM:
                wanted = ".".join(str(part) for part in SQLITE_MINIMUM)
                raise DurabilityError(f"SQLite {version} cannot record alerts: {wanted} or later")
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            secure = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
            if engine.url.database not in (None, "", ":memory:") and str(mode).lower() != "wal":
                raise DurabilityError(f"SQLite journal_mode is {mode}, WAL is required")
            if sync != 2:
                raise DurabilityError(f"SQLite synchronous is {sync}, FULL (2) is required")
            if secure != 1:
                raise DurabilityError("SQLite secure_delete is off, it is required")
        elif engine.dialect.name == "postgresql":
            value = conn.execute(text("SHOW synchronous_commit")).scalar()
            if value not in ("on", "remote_write", "remote_apply"):
                raise DurabilityError(f"PostgreSQL synchronous_commit is {value}, 'on' is required")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory; sessions never expire objects on commit.

    On SQLite its transactions number the console events they add (``outbox_order``).
    """
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    number_at_commit(factory)
    return factory


@contextmanager
def read_transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Run a reading unit of work; it may not write (see ``tgd.db.writes``)."""
    session = factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


_PRELOADED = "tgd_preloaded"  # session.info key: rows kept alive for the identity map


def preload(session: Session, model: Any, ids: Iterable[int | None]) -> list[Any]:
    """Bring the rows of ``model`` with these ids into ``session`` in one query.

    The ``session.get`` calls that follow find them in the identity map instead of one
    SELECT each: for batches (escalation, overflow, dials) inside a write transaction.
    The session's identity map holds unchanged rows weakly, so the rows are kept in
    ``session.info`` for the session's life: without that, they are dropped as soon as
    loaded and every ``get`` queries again.
    """
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return []
    rows = list(session.scalars(_preloading(model), {"ids": wanted}))
    session.info.setdefault(_PRELOADED, []).extend(rows)
    return rows


@functools.cache
def _preloading(model: Any) -> Any:
    """The preload's statement for ``model``, built once with an expanding parameter.

    Built per call with the ids as a literal list, each call left its bind parameters in
    a reference cycle: the garbage collector's work in a burst (docs/gateway.md).
    """
    return select(model).where(model.id.in_(bindparam("ids", expanding=True)))
