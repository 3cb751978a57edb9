"""Fixtures shared by every integration package: demo accounts enrolled, ``login``, and
the round trips of PostgreSQL's pipelined transactions."""

from collections.abc import Iterator

import psycopg
import pytest

from tests.integration.web.conftest import enrolled, login  # noqa: F401 - re-exported fixtures


@pytest.fixture
def pipeline_syncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """One item per round trip a pipelined statement asks for to read its result
    (``tgd.db.pipeline``; a commit's own is not counted)."""
    counted: list[int] = []
    real = psycopg.Pipeline.sync

    def sync(self: psycopg.Pipeline) -> None:
        counted.append(1)
        real(self)

    monkeypatch.setattr(psycopg.Pipeline, "sync", sync)
    yield counted
