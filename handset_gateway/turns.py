"""The gateway's other webhooks take turns for their Python (E-01, R-21).

Under the overflow's burst the carrier calls back on several connections at once (Twilio
does; the fake carrier uses eight lanes), so up to eight status callbacks were being
handled together: their form parsing, signature check, Flask dispatch and unit. They
could not run in parallel (one GIL), and they did not need to: each one ends in the
gateway writer, which takes one batch at a time anyway. What their number did was make
every thread of the process wait longer for the GIL, the voice webhook's first: a call
taken during that burst waited behind each of them at the accept, the parsing, every
statement and the answer.

So status callbacks, SMS and positions take a *turn* before their handling starts, one
at a time, and hand it on as soon as their unit is queued for the writer
(``WebhookTurns.hand_over``, called by ``GatewayWriter.run``): the commit they then wait
for is shared with the callbacks queued behind them (the writer's group commit is kept),
only their Python is taken in turn. A turn waits ``MAX_WAIT`` at most; past it the
webhook goes ahead without one, so a flood of callbacks is never slower than before by
more than that bound. Voice webhooks never take a turn (an incoming call goes first,
``handset_gateway.calls_first``), nor do the people's pages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

MAX_WAIT = 0.1  # seconds a webhook waits for its turn at most (Twilio waits 15 s)


@dataclass
class TurnStats:
    """What taking turns cost (``/metrics``, counters)."""

    turns: int = 0  # webhooks that asked for a turn
    waits: int = 0  # of them, those that found it taken and waited
    wait_seconds: float = 0.0  # time waited for a turn, summed
    timeouts: int = 0  # webhooks that went ahead without a turn after ``MAX_WAIT``


class WebhookTurns:
    """One of the gateway's other webhooks runs its Python at a time, boundedly."""

    def __init__(self, max_wait: float = MAX_WAIT) -> None:
        self.max_wait = max_wait
        self.stats = TurnStats()
        self._turn = threading.Lock()
        self._stats_lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the turn for the block, or until ``hand_over`` in it (``max_wait`` to get it)."""
        if self.held_here:  # already this thread's: never wait for oneself
            yield
            return
        started = time.monotonic()
        held = self._turn.acquire(blocking=False)
        waited = 0.0
        if not held:
            held = self._turn.acquire(timeout=self.max_wait)
            waited = time.monotonic() - started
        with self._stats_lock:
            self.stats.turns += 1
            if waited:
                self.stats.waits += 1
                self.stats.wait_seconds += waited
            self.stats.timeouts += not held
        self._local.held = held
        try:
            yield
        finally:
            self.hand_over()

    def hand_over(self) -> None:
        """Give the current thread's turn to the next webhook; nothing if it holds none."""
        if getattr(self._local, "held", False):
            self._local.held = False
            self._turn.release()

    @property
    def held_here(self) -> bool:
        """Whether the current thread holds the turn."""
        return bool(getattr(self._local, "held", False))


turns = WebhookTurns()  # the process's
