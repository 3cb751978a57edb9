"""A slow commit is logged with what its thread ran: the disk's sync, not the process."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine.default import DefaultDialect

from tgd.db.session import make_engine


def test_a_commit_that_waits_for_the_disk_is_logged_with_its_threads_cpu(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    synced = DefaultDialect.do_commit

    def slow_sync(self: DefaultDialect, dbapi_connection: Any) -> None:
        time.sleep(0.08)  # the WAL's fsync on a busy virtual disk
        synced(self, dbapi_connection)

    monkeypatch.setattr(DefaultDialect, "do_commit", slow_sync)
    engine = make_engine(database_url, watch_writes=False)
    with engine.begin() as conn:  # PostgreSQL's commit waits for its WAL's flush alike
        conn.execute(text("CREATE TABLE slow_commit (x INTEGER)"))
    engine.dispose()

    [line] = [r.getMessage() for r in caplog.records if "commit on" in r.getMessage()]
    found = re.search(r"on \S+ took (\d+) ms, its thread ran (\d+) ms of it \(the disk", line)
    assert found is not None, line
    took, ran = int(found[1]), int(found[2])
    assert took >= 80 and ran < 20
