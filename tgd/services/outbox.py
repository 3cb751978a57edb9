"""Publication of console events (E-02): a gapless order, given under a lock, then pushed.

Services add ``ConsoleEvent`` rows in their own transaction (``events.add_event``).
Insert ids can commit out of order under concurrency (id 11 visible before id
10), so consoles do not resume on them: ``publish_pending`` gives each
committed, unpublished event the next ``published_seq`` in its own short
transaction, serialised across processes (SQLite write lock taken at BEGIN,
PostgreSQL advisory lock), and returns them for pushing. Every console resumes
from the last ``published_seq`` it saw and never misses one.
On SQLite the transaction that adds events numbers them as it commits
(``tgd.db.outbox_order``): ``publish_pending`` there only numbers strays, events added
by a session not made by the platform's factory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, Update, bindparam, func, select
from sqlalchemy.orm import Session

from tgd.db.models.operations import ConsoleEvent
from tgd.db.outbox_order import numbering
from tgd.db.session import begin_with_advisory_lock, once_more_if_dropped
from tgd.db.writes import Priority, write_connection
from tgd.ports import Clock

_PG_LOCK_KEY = 0x7467_6F75  # "tgou": the outbox publication lock
BATCH = 500


@dataclass(frozen=True)
class PublishedEvent:
    """An event as consoles receive it: ids and codes only."""

    seq: int
    kind: str
    payload: dict[str, Any]
    territory_id: int | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        """Return the wire form sent over Socket.IO and by the catch-up API."""
        return {
            "seq": self.seq,
            "kind": self.kind,
            "payload": self.payload,
            "territory_id": self.territory_id,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }


def publish_pending(
    engine: Engine, *, clock: Clock, reads: Engine | None = None
) -> list[PublishedEvent]:
    """Number the committed unpublished events in insert order; return them to push.

    ``reads`` (PostgreSQL, ``make_quick_read_engine``) asks first whether any wait, and
    numbers them, without the pool's ping: on the path of every event to the consoles.
    """
    if not has_pending(reads or engine):
        return []
    if reads is None:
        return _number(engine, clock)
    # Without the pool's ping too; in a transaction, not autocommit: the lock lasts to COMMIT.
    # A COMMIT lost with its connection may have numbered events the retry does not return:
    # consoles fetch them at the next event's gap, or from the head (E-02, ``Hub``).
    numbering_engine = reads.execution_options(isolation_level="READ COMMITTED")
    return once_more_if_dropped(lambda: _number(numbering_engine, clock))


def _number(engine: Engine, clock: Clock) -> list[PublishedEvent]:
    with write_connection(engine, priority=Priority.PEOPLE, label="outbox numbering") as conn:
        if conn.dialect.name == "postgresql":
            begin_with_advisory_lock(conn, _PG_LOCK_KEY)
        return _publish_locked(conn, clock=clock)


# Built once: every hub pass asks first (docs/deployment.md).
_PENDING = select(ConsoleEvent.seq).where(ConsoleEvent.published_seq.is_(None)).limit(1)


def has_pending(engine: Engine) -> bool:
    """Tell, without writing, whether committed events wait for their number."""

    def read() -> bool:
        with engine.connect() as conn:
            pending = conn.scalar(_PENDING)
            conn.rollback()
        return pending is not None

    return once_more_if_dropped(read)


def _publish_locked(conn: Connection, *, clock: Clock) -> list[PublishedEvent]:
    rows = conn.execute(_NUMBER, {"now": clock.now()}).all()
    published = [
        PublishedEvent(row.published_seq, row.kind, row.payload, row.territory_id, row.created_at)
        for row in rows
    ]
    return sorted(published, key=lambda event: event.seq)


def _numbering(*, batch: int = BATCH) -> Update:
    """One statement numbers the next batch ``last + 1…`` in ``seq`` order and returns it.

    One round trip under the lock, where a ``SELECT max``, a ``SELECT`` of the batch and
    an ``UPDATE`` were three: on PostgreSQL every hub pass numbers here, and each round
    trip waits for a core on a busy machine (docs/deployment.md).
    """
    table = cast(Table, ConsoleEvent.__table__)
    return numbering(published_at=bindparam("now"), limit=batch).returning(
        table.c.published_seq,
        table.c.kind,
        table.c.payload,
        table.c.territory_id,
        table.c.created_at,
    )


_NUMBER = _numbering()


def events_since(session: Session, after: int, *, limit: int = BATCH) -> list[PublishedEvent]:
    """Return the published events after ``after``, in order (a console catching up)."""
    rows = session.execute(
        select(
            ConsoleEvent.published_seq,
            ConsoleEvent.kind,
            ConsoleEvent.payload,
            ConsoleEvent.territory_id,
            ConsoleEvent.created_at,
        )
        .where(ConsoleEvent.published_seq > after)
        .order_by(ConsoleEvent.published_seq)
        .limit(limit)
    ).all()
    return [PublishedEvent(row[0], row[1], row[2], row[3], row[4]) for row in rows]


def last_published_before(session: Session, when: datetime) -> int:
    """Return the highest sequence published before ``when`` (0 when none)."""
    return int(
        session.scalar(
            select(func.max(ConsoleEvent.published_seq)).where(ConsoleEvent.published_at < when)
        )
        or 0
    )


def last_published(session: Session) -> int:
    """Return the highest published sequence number (0 when none)."""
    return int(session.scalar(select(func.max(ConsoleEvent.published_seq))) or 0)
