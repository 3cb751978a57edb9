"""Incoming calls first in the whole process: other work steps aside, boundedly."""

from __future__ import annotations

import threading
import time

from tgd.calls_first import CallsInProgress


def _call_in_thread(
    tracker: CallsInProgress, taken: threading.Event, hang_up: threading.Event, log: list[str]
) -> threading.Thread:
    def take() -> None:
        with tracker.taking_call():
            taken.set()
            hang_up.wait(5)
            log.append("call answered")

    thread = threading.Thread(target=take)
    thread.start()
    assert taken.wait(5)
    return thread


def _until_waiting(tracker: CallsInProgress) -> None:
    """Return once a thread waits in ``let_calls_pass`` (on the tracker's condition)."""
    deadline = time.monotonic() + 5
    while not tracker._cond._waiters:  # type: ignore[attr-defined]  # CPython's Condition
        assert time.monotonic() < deadline
        time.sleep(0.001)


def test_with_no_call_in_progress_nothing_waits() -> None:
    tracker = CallsInProgress(max_wait=5)
    assert tracker.let_calls_pass() == 0.0
    assert (tracker.stats.waits, tracker.stats.calls) == (0, 0)


def test_other_work_waits_until_the_call_in_progress_is_answered() -> None:
    tracker, log = CallsInProgress(max_wait=5), []
    taken, hang_up = threading.Event(), threading.Event()
    call = _call_in_thread(tracker, taken, hang_up, log)

    def other_work() -> None:
        tracker.let_calls_pass()
        log.append("other work")

    worker = threading.Thread(target=other_work)
    worker.start()
    worker.join(0.1)
    assert worker.is_alive()  # still stepping aside while the call is taken
    hang_up.set()
    worker.join(5)
    call.join(5)

    assert log == ["call answered", "other work"]
    assert (tracker.stats.calls, tracker.stats.waits, tracker.stats.timeouts) == (1, 1, 0)
    assert tracker.in_progress == 0


def test_stepping_aside_is_bounded() -> None:
    tracker, log = CallsInProgress(max_wait=0.05), []
    taken, hang_up = threading.Event(), threading.Event()
    call = _call_in_thread(tracker, taken, hang_up, log)

    waited = tracker.let_calls_pass()  # the call outlasts the bound
    still_taking = tracker.in_progress
    hang_up.set()
    call.join(5)

    assert waited >= 0.05
    assert still_taking == 1
    assert (tracker.stats.waits, tracker.stats.timeouts) == (1, 1)


def test_a_thread_taking_a_call_never_waits_for_calls() -> None:
    tracker, log = CallsInProgress(max_wait=5), []
    taken, hang_up = threading.Event(), threading.Event()
    other_call = _call_in_thread(tracker, taken, hang_up, log)
    try:
        with tracker.taking_call():
            assert tracker.in_progress == 2
            assert tracker.let_calls_pass() == 0.0  # neither its own call nor the other
    finally:
        hang_up.set()
        other_call.join(5)
    assert tracker.stats.waits == 0


def test_other_work_waits_for_the_calls_in_progress_not_for_those_arriving_after_it() -> None:
    tracker, log = CallsInProgress(max_wait=5), []
    first_taken, first_hang_up = threading.Event(), threading.Event()
    first = _call_in_thread(tracker, first_taken, first_hang_up, log)
    passed = threading.Event()

    def other_work() -> None:
        tracker.let_calls_pass()
        passed.set()

    worker = threading.Thread(target=other_work)
    worker.start()
    _until_waiting(tracker)
    second_taken, second_hang_up = threading.Event(), threading.Event()
    second = _call_in_thread(tracker, second_taken, second_hang_up, log)  # arrives meanwhile
    first_hang_up.set()
    first.join(5)
    assert passed.wait(5)  # the second call is still being taken: no need to wait for it
    second_hang_up.set()
    second.join(5)
    worker.join(5)
    assert tracker.stats.timeouts == 0
