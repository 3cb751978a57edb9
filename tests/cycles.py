"""Reference cycles made by a piece of work, found with the garbage collector.

A cycle per request or per batch is what made the collector stop the server for 13-28 ms
every few seconds of a webhook burst (docs/gateway.md, "The garbage collector's pauses").
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def _collecting_by_hand() -> Iterator[list[object]]:
    """No automatic collection inside; the cycles made inside land in the list at the end.

    Only objects made inside count: an earlier test's engine, say, whose last outside
    reference a finishing thread drops meanwhile, is garbage too, and not this work's.
    """
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    earlier = {id(o) for o in gc.get_objects()}
    found: list[object] = []
    try:
        yield found
        gc.collect()
        found.extend(o for o in gc.garbage if id(o) not in earlier)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def assert_no_cycle_made(work: Callable[[int], None], *, tries: int = 3) -> None:
    """Fail if ``work(attempt)`` leaves objects in reference cycles on each of ``tries``.

    A cycle the work makes, it makes every time; another thread of the test process (an
    earlier test's, winding down) may make one once.
    """
    kinds: list[tuple[str, int]] = []
    for attempt in range(tries):
        with _collecting_by_hand() as made:
            work(attempt)
        if not made:
            return
        kinds = Counter(type(o).__qualname__ for o in made).most_common(10)
    pytest.fail(f"reference cycles left on each of {tries} tries: {kinds}")
