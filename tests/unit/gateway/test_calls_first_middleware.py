"""The gateway marks voice webhooks as calls being taken; its other webhooks wait for them."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from werkzeug.test import Client
from werkzeug.wrappers import Response

from handset_gateway.calls_first import VOICE_PATH, CallsFirstMiddleware
from handset_gateway.turns import WebhookTurns
from tgd.calls_first import CallsInProgress

STATUS_PATH = "/gateway/twilio/voice/status"


class _App:
    """A WSGI app that notes what it saw; the voice webhook waits for ``hang_up``, a status
    callback for ``written`` once ``slow_callbacks`` is set."""

    def __init__(self, tracker: CallsInProgress) -> None:
        self.tracker = tracker
        self.taken, self.hang_up = threading.Event(), threading.Event()
        self.slow_callbacks, self.in_callback, self.written = (
            threading.Event(),
            threading.Event(),
            threading.Event(),
        )
        self.log: list[tuple[str, int]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        self.log.append((path, self.tracker.in_progress))
        if path == VOICE_PATH:
            self.taken.set()
            self.hang_up.wait(5)
        elif path == STATUS_PATH and self.slow_callbacks.is_set():
            self.in_callback.set()
            self.written.wait(5)
        return Response("ok")(environ, start_response)


def _served(
    max_wait: float, turns: WebhookTurns | None = None
) -> tuple[_App, Client, CallsInProgress]:
    tracker = CallsInProgress(max_wait=max_wait)
    app = _App(tracker)
    middleware = CallsFirstMiddleware(
        app, tracker=tracker, webhook_turns=turns or WebhookTurns(max_wait=max_wait)
    )
    return app, Client(middleware), tracker


def _call_in_thread(app: _App, client: Client) -> threading.Thread:
    thread = threading.Thread(target=lambda: client.post(VOICE_PATH))
    thread.start()
    assert app.taken.wait(5)
    return thread


def test_a_voice_webhook_is_a_call_being_taken_until_it_answers() -> None:
    app, client, tracker = _served(max_wait=5)
    app.hang_up.set()
    assert client.post(VOICE_PATH).status_code == 200
    assert app.log == [(VOICE_PATH, 1)]
    assert (tracker.in_progress, tracker.stats.calls) == (0, 1)


def test_a_status_callback_waits_for_the_call_being_taken() -> None:
    app, client, tracker = _served(max_wait=5)
    call = _call_in_thread(app, client)
    callback = threading.Thread(target=lambda: client.post(STATUS_PATH))
    callback.start()
    callback.join(0.1)
    assert callback.is_alive()  # held at the door while the call is taken
    app.hang_up.set()
    callback.join(5)
    call.join(5)
    # The callback reached the app only once no call was in progress.
    assert app.log == [(VOICE_PATH, 1), (STATUS_PATH, 0)]
    assert tracker.stats.waits == 1


def test_people_s_pages_do_not_wait_at_the_door() -> None:
    app, client, tracker = _served(max_wait=5)
    call = _call_in_thread(app, client)
    try:
        assert client.get("/console").status_code == 200
    finally:
        app.hang_up.set()
        call.join(5)
    assert app.log == [(VOICE_PATH, 1), ("/console", 1)]
    assert tracker.stats.waits == 0


def _slow_callback_in_thread(app: _App, client: Client) -> threading.Thread:
    app.slow_callbacks.set()
    thread = threading.Thread(target=lambda: client.post(STATUS_PATH))
    thread.start()
    assert app.in_callback.wait(5)
    return thread


def test_status_callbacks_take_turns() -> None:
    turns = WebhookTurns(max_wait=5)
    app, client, _tracker = _served(max_wait=5, turns=turns)
    first = _slow_callback_in_thread(app, client)
    second = threading.Thread(target=lambda: client.post("/gateway/positions"))
    second.start()
    second.join(0.1)
    assert second.is_alive()  # the first callback's Python runs alone
    app.written.set()
    first.join(5)
    second.join(5)
    assert [path for path, _ in app.log] == [STATUS_PATH, "/gateway/positions"]
    assert (turns.stats.turns, turns.stats.waits) == (2, 1)


def test_a_call_never_waits_for_a_callback_s_turn() -> None:
    turns = WebhookTurns(max_wait=5)
    app, client, _tracker = _served(max_wait=5, turns=turns)
    callback = _slow_callback_in_thread(app, client)
    try:
        app.hang_up.set()
        assert client.post(VOICE_PATH).status_code == 200  # while the callback holds the turn
        assert client.get("/console").status_code == 200
    finally:
        app.written.set()
        callback.join(5)
    assert [path for path, _ in app.log] == [STATUS_PATH, VOICE_PATH, "/console"]
    assert turns.stats.turns == 1
