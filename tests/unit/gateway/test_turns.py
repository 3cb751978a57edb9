"""The gateway's other webhooks take turns for their Python, boundedly."""

from __future__ import annotations

import threading

from handset_gateway.turns import WebhookTurns


def _holding(
    turns: WebhookTurns, release: threading.Event, *, hand_over: bool = False
) -> threading.Thread:
    """A thread that takes the turn and keeps it (or hands it over) until ``release``."""
    taken = threading.Event()

    def hold() -> None:
        with turns.turn():
            if hand_over:
                turns.hand_over()
            taken.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(5)
    return thread


def _entered_within(
    turns: WebhookTurns, seconds: float
) -> tuple[threading.Thread, threading.Event]:
    entered = threading.Event()

    def enter() -> None:
        with turns.turn():
            entered.set()

    thread = threading.Thread(target=enter)
    thread.start()
    entered.wait(seconds)
    return thread, entered


def test_a_webhook_waits_for_the_one_holding_the_turn() -> None:
    turns, release = WebhookTurns(max_wait=5), threading.Event()
    first = _holding(turns, release)
    second, entered = _entered_within(turns, 0.1)
    assert not entered.is_set()  # the first one's Python runs alone
    release.set()
    assert entered.wait(5)
    first.join(5)
    second.join(5)
    assert (turns.stats.turns, turns.stats.waits, turns.stats.timeouts) == (2, 1, 0)
    assert turns.stats.wait_seconds > 0


def test_a_webhook_that_handed_its_turn_over_lets_the_next_one_in() -> None:
    # What the gateway writer does once the webhook's unit is queued: the commit it then
    # waits for is shared, not taken in turn.
    turns, release = WebhookTurns(max_wait=5), threading.Event()
    first = _holding(turns, release, hand_over=True)
    second, entered = _entered_within(turns, 5)
    try:
        assert entered.is_set()
        assert not turns.held_here
    finally:
        release.set()
        first.join(5)
        second.join(5)
    assert turns.stats.waits == 0


def test_waiting_for_a_turn_is_bounded() -> None:
    turns, release = WebhookTurns(max_wait=0.05), threading.Event()
    first = _holding(turns, release)
    try:
        second, entered = _entered_within(turns, 5)
        assert entered.is_set()  # went ahead without the turn, past the bound
        second.join(5)
    finally:
        release.set()
        first.join(5)
    assert turns.stats.timeouts == 1
    # The turn is still the first one's until it gives it: the late one gave nothing back.
    third, entered = _entered_within(turns, 5)
    third.join(5)
    assert entered.is_set() and turns.stats.timeouts == 1


def test_a_thread_holding_the_turn_never_waits_for_itself() -> None:
    turns = WebhookTurns(max_wait=5)
    with turns.turn():
        with turns.turn():
            assert turns.held_here
        assert turns.held_here  # the inner block gave back nothing it did not take
    assert not turns.held_here
    assert turns.stats.waits == 0


def test_handing_over_without_a_turn_does_nothing() -> None:
    turns = WebhookTurns(max_wait=5)
    turns.hand_over()
    with turns.turn():
        assert turns.held_here
