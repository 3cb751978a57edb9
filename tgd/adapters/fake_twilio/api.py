"""The REST side of the fake Twilio: Calls, Conference Participants and Messages, recorded.

It also plays the calls it places, as Twilio does: each participant it dials rings, then
is answered (or not: numbers in ``unreachable`` give ``no-answer``), and each removal
hangs the call up; every step the request asked to be told of (``StatusCallbackEvent``,
``ConferenceStatusCallbackEvent``, else Twilio's defaults) is a status callback
(``StatusCallback``, with its query string) or a conference event
(``ConferenceStatusCallback``, with ``ParticipantLabel``), form-encoded and signed with
the auth token, exactly in Twilio's wire format. The
callbacks are queued in ``pending``; ``CallProgress`` delivers them over HTTP in the
background (embedded demo, live tests), or a test delivers them itself (``deliver_pending``).
"""

from __future__ import annotations

import logging
import queue
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, jsonify, request
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.test import Client

from tgd.adapters.carrier_http import encode_request

API = "/2010-04-01/Accounts/<account>"
log = logging.getLogger(__name__)
# Twilio's defaults when the request names no event: a call's end, a conference's start and end.
DEFAULT_CALL_EVENTS = frozenset({"completed"})
DEFAULT_CONFERENCE_EVENTS = frozenset({"start", "end"})
# The event a call status or a conference event belongs to, as the request names it.
_CALL_EVENT_OF = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}
_CONFERENCE_EVENT_OF = {
    "conference-start": "start",
    "conference-end": "end",
    "participant-join": "join",
    "participant-leave": "leave",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received: method, path and form parameters (lists of values)."""

    method: str
    path: str
    form: dict[str, list[str]] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        """Return the first value of a form parameter."""
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class FakeCall:
    """A call the fake placed into a conference, and where it stands."""

    sid: str
    to: str
    conference: str  # the name (or SID) it was dialled into
    conference_sid: str
    label: str | None
    status_callback: str | None
    conference_status_callback: str | None
    status: str = "queued"
    answered_at: float | None = None
    # The events the platform asked to be told of (``StatusCallbackEvent`` and
    # ``ConferenceStatusCallbackEvent``); Twilio sends those and no others.
    call_events: frozenset[str] = DEFAULT_CALL_EVENTS
    conference_events: frozenset[str] = DEFAULT_CONFERENCE_EVENTS


@dataclass(frozen=True)
class Webhook:
    """One callback the carrier sends to the platform, due at a monotonic instant."""

    url: str
    params: dict[str, str]
    due: float


Deliver = Callable[[str, dict[str, str]], None]


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _now() -> str:
    return format_datetime(datetime.now(UTC), usegmt=False)


class FakeTwilio:
    """The fake REST API: answers like Twilio and remembers what it was asked."""

    def __init__(
        self,
        *,
        auth_token: str | None = None,
        ring_after: float = 0.3,
        answer_after: float = 1.5,
    ) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._fail_next: list[int] = []
        self.auth_token = auth_token
        self.ring_after = ring_after
        self.answer_after = answer_after
        self.calls: dict[str, FakeCall] = {}
        self.unreachable: set[str] = set()  # numbers that ring and never answer
        self.pending: list[Webhook] = []
        self.wake = threading.Event()
        self._conference_sids: dict[str, str] = {}
        self.app = self._build()

    # --- the calls it plays ---------------------------------------------------------------

    def in_bridge(self, conference: str | None = None) -> list[FakeCall]:
        """Return the calls in line now (answered, not hung up), of one conference or all."""
        now = time.monotonic()
        with self._lock:
            return [
                c
                for c in self.calls.values()
                if c.status == "in-progress"
                and c.answered_at is not None
                and c.answered_at <= now
                and (conference is None or conference in (c.conference, c.conference_sid))
            ]

    def _queue(self, url: str | None, params: dict[str, str], delay: float) -> None:
        if not url:
            return
        self.pending.append(Webhook(url, params, time.monotonic() + delay))
        self.wake.set()

    def _call_event(self, call: FakeCall, status: str, delay: float, **extra: str) -> None:
        if _CALL_EVENT_OF.get(status, "completed") not in call.call_events:
            return  # not asked for: Twilio does not send it
        params = {
            "CallSid": call.sid,
            "AccountSid": "AC" + "0" * 32,
            "CallStatus": status,
            "To": call.to,
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            **extra,
        }
        self._queue(call.status_callback, params, delay)

    def _conference_event(self, call: FakeCall, event: str, delay: float) -> None:
        if _CONFERENCE_EVENT_OF.get(event) not in call.conference_events:
            return
        params = {
            "ConferenceSid": call.conference_sid,
            "FriendlyName": call.conference if not call.conference.startswith("CF") else "",
            "StatusCallbackEvent": event,
            "CallSid": call.sid,
            "AccountSid": "AC" + "0" * 32,
        }
        if call.label:
            params["ParticipantLabel"] = call.label
        if params["FriendlyName"]:
            self._queue(call.conference_status_callback, params, delay)

    def _dialled(self, conference: str, sid: str, form: Any) -> None:
        conference_sid = (
            conference
            if conference.startswith("CF")
            else self._conference_sids.setdefault(conference, _sid("CF"))
        )
        call = FakeCall(
            sid=sid,
            to=form.get("To", ""),
            conference=conference,
            conference_sid=conference_sid,
            label=form.get("Label"),
            status_callback=form.get("StatusCallback"),
            conference_status_callback=form.get("ConferenceStatusCallback"),
            call_events=_asked(form, "StatusCallbackEvent", DEFAULT_CALL_EVENTS),
            conference_events=_asked(
                form, "ConferenceStatusCallbackEvent", DEFAULT_CONFERENCE_EVENTS
            ),
        )
        with self._lock:
            self.calls[sid] = call
            self._call_event(call, "initiated", 0.0)
            self._call_event(call, "ringing", self.ring_after)
            if call.to in self.unreachable:
                call.status = "no-answer"
                self._call_event(call, "no-answer", self.answer_after)
            else:
                call.status = "in-progress"
                call.answered_at = time.monotonic() + self.answer_after
                self._call_event(call, "in-progress", self.answer_after)
                self._conference_event(call, "participant-join", self.answer_after + 0.05)

    def _hung_up(self, sid: str) -> None:
        with self._lock:
            call = self.calls.get(sid)
            if call is None or call.status in ("completed", "no-answer", "canceled"):
                return
            now = time.monotonic()
            if call.answered_at is None or call.answered_at > now:
                # Taken out while still ringing: its later callbacks never happen.
                self.pending = [w for w in self.pending if w.params.get("CallSid") != sid]
                call.status = "canceled"
                self._call_event(call, "canceled", 0.05)
                return
            call.status = "completed"
            self._conference_event(call, "participant-leave", 0.05)
            duration = str(int(now - call.answered_at))
            self._call_event(call, "completed", 0.1, CallDuration=duration)

    def take_due(self, *, now: float | None = None) -> list[Webhook]:
        """Remove and return the callbacks due now (all of them with ``now=inf``)."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            due = [w for w in self.pending if w.due <= moment]
            self.pending = [w for w in self.pending if w.due > moment]
        return sorted(due, key=lambda w: w.due)

    def next_due(self) -> float | None:
        """Return when the next queued callback is due (monotonic), or None."""
        with self._lock:
            return min((w.due for w in self.pending), default=None)

    def deliver_pending(self, deliver: Deliver) -> int:
        """Deliver every queued callback at once, in order (tests); return how many."""
        due = self.take_due(now=float("inf"))
        for webhook in due:
            deliver(webhook.url, webhook.params)
        return len(due)

    def sign(self, url: str, params: dict[str, str]) -> str:
        """Return the ``X-Twilio-Signature`` of a callback, as Twilio computes it."""
        return str(RequestValidator(self.auth_token or "").compute_signature(url, params))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()
            self._fail_next.clear()

    def fail_next(self, status: int = 500) -> None:
        """Make the next API request fail with this HTTP status (carrier fault)."""
        with self._lock:
            self._fail_next.append(status)

    def _record(self) -> Response | None:
        auth = request.authorization
        if auth is None or (self.auth_token is not None and auth.password != self.auth_token):
            return _error(401, 20003, "Authenticate")
        with self._lock:
            self._requests.append(
                RecordedRequest(request.method, request.path, dict(request.form.lists()))
            )
            status = self._fail_next.pop(0) if self._fail_next else None
        if status is not None:
            return _error(status, 20500, "Internal Server Error")
        return None

    def _build(self) -> Flask:
        app = Flask("fake_twilio")

        @app.post(f"{API}/Calls.json")
        def create_call(account: str) -> Any:
            return self._record() or _created(_call(account, _sid("CA"), request.form))

        @app.post(f"{API}/Calls/<sid>.json")
        def update_call(account: str, sid: str) -> Any:
            failure = self._record()
            if failure is None and request.form.get("Status") == "completed":
                self._hung_up(sid)
            return failure or jsonify(_call(account, sid, request.form))

        @app.post(f"{API}/Conferences/<conference>/Participants.json")
        def create_participant(account: str, conference: str) -> Any:
            failure = self._record()
            if failure is not None:
                return failure
            sid = _sid("CA")
            self._dialled(conference, sid, request.form)
            return _created(_participant(account, conference, sid, request.form))

        @app.post(f"{API}/Conferences/<conference>/Participants/<sid>.json")
        def update_participant(account: str, conference: str, sid: str) -> Any:
            failure = self._record()
            return failure or jsonify(_participant(account, conference, sid, request.form))

        @app.delete(f"{API}/Conferences/<conference>/Participants/<sid>.json")
        def delete_participant(account: str, conference: str, sid: str) -> Any:
            failure = self._record()
            if failure is None:
                self._hung_up(sid)
            return failure or Response(status=204)

        @app.post(f"{API}/Messages.json")
        def create_message(account: str) -> Any:
            return self._record() or _created(_message(account, request.form))

        @app.get("/_fake/requests")
        def recorded() -> Any:
            return jsonify([r.__dict__ for r in self.requests])

        @app.get("/_fake/calls")
        def calls() -> Any:
            with self._lock:
                return jsonify(
                    [
                        {
                            "sid": c.sid,
                            "conference": c.conference,
                            "label": c.label,
                            "status": c.status,
                        }
                        for c in self.calls.values()
                    ]
                )

        return app


def _asked(form: Any, name: str, default: frozenset[str]) -> frozenset[str]:
    """The events a request asks for: repeated parameters, or values separated by spaces."""
    events = frozenset(word for value in form.getlist(name) for word in value.split())
    return events or default


def _error(status: int, code: int, message: str) -> Response:
    body = jsonify(
        code=code, message=message, more_info="https://www.twilio.com/docs/errors", status=status
    )
    body.status_code = status
    return body


def _created(payload: dict[str, Any]) -> Response:
    response = jsonify(payload)
    response.status_code = 201
    return response


def _call(account: str, sid: str, form: Any) -> dict[str, Any]:
    return {
        "sid": sid,
        "account_sid": account,
        "to": form.get("To"),
        "from": form.get("From"),
        "status": form.get("Status", "queued"),
        "direction": "outbound-api",
        "date_created": _now(),
        "date_updated": _now(),
        "api_version": "2010-04-01",
        "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json",
    }


def _participant(account: str, conference: str, call_sid: str, form: Any) -> dict[str, Any]:
    return {
        "account_sid": account,
        "call_sid": call_sid,
        "conference_sid": conference if conference.startswith("CF") else _sid("CF"),
        "label": form.get("Label"),
        "coaching": False,
        "call_sid_to_coach": None,
        "date_created": _now(),
        "date_updated": _now(),
        "end_conference_on_exit": form.get("EndConferenceOnExit") == "true",
        "start_conference_on_enter": form.get("StartConferenceOnEnter", "true") == "true",
        "muted": False,
        "hold": False,
        "status": "queued",
        "queue_time": "0",
        "uri": f"/2010-04-01/Accounts/{account}/Conferences/{conference}"
        f"/Participants/{call_sid}.json",
    }


def _message(account: str, form: Any) -> dict[str, Any]:
    sid = _sid("SM")
    return {
        "sid": sid,
        "account_sid": account,
        "to": form.get("To"),
        "from": form.get("From"),
        "body": form.get("Body"),
        "status": "queued",
        "direction": "outbound-api",
        "num_segments": "1",
        "date_created": _now(),
        "date_updated": _now(),
        "date_sent": None,
        "api_version": "2010-04-01",
        "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
    }


class CallProgress:
    """Delivers the fake's queued callbacks over HTTP when they are due (daemon threads).

    Each callback is POSTed, signed, to the URL the platform gave (its public URL): the
    platform receives what Twilio would send. Delivery failures are logged and dropped.

    Twilio sends callbacks in parallel, not one after the other: one delivering thread let
    them fall behind by seconds under a burst (the bench's overflow dials), and hid from
    the platform both the load and the disorder it must bear. Callbacks go out on
    ``lanes`` threads, those of one call (its ``CallSid``) always on the same lane, so a
    call's own callbacks keep their order while different calls' overtake each other.
    """

    def __init__(self, fake: FakeTwilio, *, timeout: float = 10.0, lanes: int = 8) -> None:
        self.fake = fake
        self.timeout = timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-twilio-progress", daemon=True)
        self._lanes: list[queue.SimpleQueue[tuple[str, dict[str, str]] | None]] = [
            queue.SimpleQueue() for _ in range(lanes)
        ]
        self._senders = [
            threading.Thread(
                target=self._send, args=(lane,), name="fake-twilio-callback", daemon=True
            )
            for lane in self._lanes
        ]

    def start(self) -> CallProgress:
        """Start delivering in the background."""
        for sender in self._senders:
            sender.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop delivering."""
        self._stop.set()
        self.fake.wake.set()
        self._thread.join(timeout=5)
        for lane in self._lanes:
            lane.put(None)
        for sender in self._senders:
            sender.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            for webhook in self.fake.take_due():
                key = webhook.params.get("CallSid") or webhook.url
                lane = self._lanes[zlib.crc32(key.encode()) % len(self._lanes)]
                lane.put((webhook.url, webhook.params))
            nearest = self.fake.next_due()
            wait = 0.5 if nearest is None else max(0.0, min(0.5, nearest - time.monotonic()))
            self.fake.wake.wait(wait)
            self.fake.wake.clear()

    def _send(self, lane: queue.SimpleQueue[tuple[str, dict[str, str]] | None]) -> None:
        while (item := lane.get()) is not None:
            self.post(*item)

    def post(self, url: str, params: dict[str, str]) -> None:
        """POST one signed callback, as Twilio does."""
        request = urllib.request.Request(  # noqa: S310 - the platform's own public URL
            url, data=urlencode(params).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        request.add_header("X-Twilio-Signature", self.fake.sign(url, params))
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read()
        except (urllib.error.URLError, OSError) as exc:
            log.warning("fake carrier callback not delivered (%s)", type(exc).__name__)


class WsgiHttpClient(HttpClient):  # type: ignore[misc]  # twilio ships no type hints here
    """A ``twilio`` HTTP client that calls a WSGI app in-process: the real client, no network."""

    def __init__(self, fake: FakeTwilio) -> None:
        super().__init__(logger=log, is_async=False, timeout=None)
        self.fake = fake
        self._client = Client(fake.app)

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        """Send one request to the fake, encoded as the production client encodes it."""
        del timeout, allow_redirects
        url, body, sent = encode_request(uri, params, data, headers, auth)
        parts = urlsplit(url)
        response = self._client.open(
            parts.path, method=method, query_string=parts.query, data=body or b"", headers=sent
        )
        try:
            return TwilioResponse(
                response.status_code, response.get_data(as_text=True), response.headers
            )
        finally:
            response.close()


class FakeTwilioServer:
    """The fake REST API served on loopback in a thread (tests, ``tgd simulate twilio``)."""

    def __init__(
        self,
        fake: FakeTwilio | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.fake = fake or FakeTwilio()
        self._server: BaseWSGIServer = make_server(
            host, port, self.fake.app, threaded=True, ssl_context=ssl_context
        )
        self._scheme = "https" if ssl_context is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL to give the ``twilio`` client (``client.api.base_url``)."""
        return f"{self._scheme}://{self._server.host}:{self._server.port}"

    def start(self) -> FakeTwilioServer:
        """Serve in the background."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeTwilioServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
