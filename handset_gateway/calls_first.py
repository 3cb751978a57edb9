"""The gateway's part of "incoming calls first" (``tgd.calls_first``), as WSGI middleware.

Outside Flask, so that the mark covers the whole webhook: its form parsing and signature
check as well as its write and answer. The gateway's other webhooks also take turns here
for their Python (``handset_gateway.turns``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from handset_gateway.turns import WebhookTurns, turns
from tgd.calls_first import CallsInProgress, calls

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

VOICE_PATH = "/gateway/twilio/voice"
GATEWAY_PREFIX = "/gateway/"


class CallsFirstMiddleware:
    """Mark voice webhooks as calls being taken; hold the gateway's other webhooks for them.

    Status callbacks, SMS and positions take their turn (``WebhookTurns``), then wait
    (``MAX_WAIT`` at most) before their handling starts while a call is being taken;
    nobody waits on the line for them.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        tracker: CallsInProgress = calls,
        webhook_turns: WebhookTurns = turns,
    ) -> None:
        self.app = app
        self.tracker = tracker
        self.turns = webhook_turns

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[Any]:
        path = environ.get("PATH_INFO", "")
        if path == VOICE_PATH:
            with self.tracker.taking_call():
                return self.app(environ, start_response)
        if path.startswith(GATEWAY_PREFIX):
            with self.turns.turn():
                self.tracker.let_calls_pass()
                return self.app(environ, start_response)
        return self.app(environ, start_response)
