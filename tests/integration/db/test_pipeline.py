"""PostgreSQL's pipelined transactions (``tgd.db.pipeline``): a round trip only where a
result is read, the queued statements sent with it, in order."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from tgd.container import Platform
from tgd.db import pipeline
from tgd.db.models.operations import ConsoleEvent
from tgd.db.writes import WRITER_OPTION

EVENTS = ConsoleEvent.__table__
ADD = insert(EVENTS).inline()  # returns nothing: a pipeline may queue it


def _postgres(platform: Platform) -> Engine:
    if not pipeline.supported(platform.engine):
        pytest.skip("PostgreSQL only: SQLite has no pipeline")
    return platform.engine.execution_options(**{WRITER_OPTION: True})


def _row(kind: str | None, clock: Any) -> dict[str, Any]:
    return {"territory_id": None, "kind": kind, "payload": {}, "created_at": clock.now()}


def _count(conn: Connection, kind: str) -> int:
    return int(conn.scalar(select(func.count()).where(EVENTS.c.kind == kind)) or 0)


def test_queued_statements_go_with_the_next_read_and_the_commit(
    platform: Platform, pipeline_syncs: list[int]
) -> None:
    engine = _postgres(platform)
    with engine.connect() as conn, pipeline.pipelined(conn):
        conn.execute(ADD, _row("queued", platform.clock), execution_options=pipeline.QUEUED_OPTIONS)
        assert pipeline_syncs == []  # not sent yet
        assert _count(conn, "queued") == 1  # the read went with it, after it
        assert pipeline_syncs == [1]
        conn.execute(ADD, _row("queued", platform.clock), execution_options=pipeline.QUEUED_OPTIONS)
        conn.commit()  # the second insert goes with the COMMIT
    assert pipeline_syncs == [1]
    with platform.engine.connect() as other:
        assert _count(other, "queued") == 2


def test_a_queued_statements_error_is_raised_by_the_next_read(
    platform: Platform, pipeline_syncs: list[int]
) -> None:
    engine = _postgres(platform)
    with engine.connect() as conn, pipeline.pipelined(conn):
        conn.execute(ADD, _row(None, platform.clock), execution_options=pipeline.QUEUED_OPTIONS)
        with pytest.raises(IntegrityError):  # the event's kind may not be NULL
            _count(conn, "queued")
        assert pipeline.statement_failed(conn)
        pipeline.roll_back(conn)
        conn.rollback()
        assert not pipeline.statement_failed(conn)


def test_an_insert_returning_its_key_is_sent_at_once(
    platform: Platform, pipeline_syncs: list[int]
) -> None:
    engine = _postgres(platform)
    with engine.connect() as conn, pipeline.pipelined(conn):
        # Not inline: SQLAlchemy makes it return the new row's key, and reads it.
        result = conn.execute(
            insert(EVENTS), _row("keyed", platform.clock), execution_options=pipeline.QUEUED_OPTIONS
        )
        assert result.inserted_primary_key[0] is not None
        assert pipeline_syncs == [1]
        conn.rollback()


def test_outside_a_pipeline_a_queued_statement_runs_at_once(platform: Platform) -> None:
    engine = _postgres(platform)
    with engine.connect() as conn:
        with pytest.raises(IntegrityError):
            conn.execute(ADD, _row(None, platform.clock), execution_options=pipeline.QUEUED_OPTIONS)
        conn.rollback()
