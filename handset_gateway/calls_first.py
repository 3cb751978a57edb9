"""The gateway's part of "incoming calls first" (``tgd.calls_first``), as WSGI middleware.

Outside Flask, so that the mark covers the whole webhook: its form parsing and signature
check as well as its write and answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tgd.calls_first import CallsInProgress, calls

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

VOICE_PATH = "/gateway/twilio/voice"
GATEWAY_PREFIX = "/gateway/"


class CallsFirstMiddleware:
    """Mark voice webhooks as calls being taken; hold the gateway's other webhooks for them.

    Status callbacks, SMS and positions wait (``MAX_WAIT`` at most) before their handling
    starts while a call is being taken; nobody waits on the line for them.
    """

    def __init__(self, app: WSGIApplication, *, tracker: CallsInProgress = calls) -> None:
        self.app = app
        self.tracker = tracker

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[Any]:
        path = environ.get("PATH_INFO", "")
        if path == VOICE_PATH:
            with self.tracker.taking_call():
                return self.app(environ, start_response)
        if path.startswith(GATEWAY_PREFIX):
            self.tracker.let_calls_pass()
        return self.app(environ, start_response)
