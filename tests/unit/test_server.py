"""The worker's garbage collection: rarer young collections, start-up objects frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tgd import server


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_a_worker_collects_less_often_and_never_rescans_its_start_up_objects() -> None:
    built_at_start_up = [[] for _ in range(1000)]  # containers: the collector tracks them
    server.tune_gc()
    assert gc.get_threshold() == server.GC_THRESHOLDS
    assert server.GC_THRESHOLDS[0] > 700  # the default (700) ran a full one every 30 s under load
    assert gc.get_freeze_count() >= len(built_at_start_up)
