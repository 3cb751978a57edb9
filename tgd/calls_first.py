"""Incoming calls first in the whole process, not only at the write gate (E-01, R-21).

The gateway writer runs an incoming call's unit ahead of the others and the write gate
hands itself to it first (``handset_gateway.db``, ``tgd.db.writes``). Under a burst that
was not enough: the call's thread still shared one GIL with everything the process was
doing, and every thread that started work while the call was being taken (a status
callback's handling, an escalation transaction, an overflow dial, a pass of the console
hub) made each of its statements wait longer to run again.

So while a call is being taken (from its voice webhook's arrival to its answer, a few
milliseconds), work that can wait steps aside before it starts: each such place calls
``let_calls_pass()``, which returns at once when no call is in progress, and otherwise
waits until the calls in progress at that moment are answered, ``MAX_WAIT`` at most. The
places:

- the carrier's other webhooks and terminal positions, before their handling
  (``handset_gateway.calls_first``);
- every write transaction but the gateway writer's, before it asks for the write gate
  (``WriteGate.acquire``): escalation, dial records, jobs, people's actions, the CLI;
- the dials placed by jobs and webhooks (an escalation pass's overflow dials), before
  each batch placed at the carrier (``dispatch.complete_dials``); an operator's own dial
  goes out at once;
- the console hub, before each pass;
- the service-levels job's read of the late alerts, between chunks
  (``tgd.services.service_levels``): after a burst it reads thousands at once.

Work already started is not stopped, and nothing waits longer than ``MAX_WAIT`` per
place: under a flood of calls the rest of the platform still moves, one step per
``MAX_WAIT``. A thread taking a call never waits here (for its own call or another).
Per process: a CLI command or a scheduler process beside the server has no calls in
progress, and never waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

MAX_WAIT = 0.02  # seconds one place steps aside at most: a call's webhook takes 3-20 ms


@dataclass
class CallsFirstStats:
    """What stepping aside cost (``/metrics``, counters)."""

    calls: int = 0  # calls taken
    waits: int = 0  # times a place stepped aside
    wait_seconds: float = 0.0  # time spent stepping aside, summed
    timeouts: int = 0  # times a place stopped waiting after ``MAX_WAIT``


class CallsInProgress:
    """Counts the calls being taken; lets other work wait for them, boundedly."""

    def __init__(self, max_wait: float = MAX_WAIT) -> None:
        self.max_wait = max_wait
        self.stats = CallsFirstStats()
        self._taken = 0  # calls started so far: each call's number
        self._active: set[int] = set()  # the numbers of the calls being taken
        self._cond = threading.Condition()
        self._local = threading.local()

    @contextmanager
    def taking_call(self) -> Iterator[None]:
        """Mark the current thread as taking an incoming call until the block ends."""
        with self._cond:
            self._taken += 1
            number = self._taken
            self._active.add(number)
            self.stats.calls += 1
        self._local.taking = getattr(self._local, "taking", 0) + 1
        try:
            yield
        finally:
            self._local.taking -= 1
            with self._cond:
                self._active.discard(number)
                self._cond.notify_all()

    def _taking_here(self) -> bool:
        taking: int = getattr(self._local, "taking", 0)
        return taking > 0

    @property
    def in_progress(self) -> int:
        """How many calls are being taken now."""
        return len(self._active)

    def let_calls_pass(self) -> float:
        """Wait until the calls being taken now are answered (not the ones that arrive
        meanwhile: under a stream of calls, waiting for none at all would always last
        ``max_wait``), ``max_wait`` at most; return the time waited."""
        if not self._active or self._taking_here():
            return 0.0  # the common case costs one read, no lock
        started = time.monotonic()
        with self._cond:
            last = self._taken

            def answered() -> bool:
                return not self._active or min(self._active) > last

            cleared = self._cond.wait_for(answered, timeout=self.max_wait)
            waited = time.monotonic() - started
            self.stats.waits += 1
            self.stats.wait_seconds += waited
            self.stats.timeouts += not cleared
        return waited


calls = CallsInProgress()  # the process's


def let_calls_pass() -> float:
    """Step aside for the calls being taken in this process (see the module's docstring)."""
    return calls.let_calls_pass()
