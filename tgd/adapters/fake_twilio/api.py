"""The REST side of the fake Twilio: Calls, Conference Participants and Messages, recorded."""

from __future__ import annotations

import base64
import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, jsonify, request
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.test import Client

API = "/2010-04-01/Accounts/<account>"
log = logging.getLogger(__name__)


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


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _now() -> str:
    return format_datetime(datetime.now(UTC), usegmt=False)


class FakeTwilio:
    """The fake REST API: answers like Twilio and remembers what it was asked."""

    def __init__(self, *, auth_token: str | None = None) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._fail_next: list[int] = []
        self.auth_token = auth_token
        self.app = self._build()

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
            return self._record() or jsonify(_call(account, sid, request.form))

        @app.post(f"{API}/Conferences/<conference>/Participants.json")
        def create_participant(account: str, conference: str) -> Any:
            failure = self._record()
            return failure or _created(_participant(account, conference, _sid("CA"), request.form))

        @app.post(f"{API}/Conferences/<conference>/Participants/<sid>.json")
        def update_participant(account: str, conference: str, sid: str) -> Any:
            failure = self._record()
            return failure or jsonify(_participant(account, conference, sid, request.form))

        @app.delete(f"{API}/Conferences/<conference>/Participants/<sid>.json")
        def delete_participant(account: str, conference: str, sid: str) -> Any:
            return self._record() or Response(status=204)

        @app.post(f"{API}/Messages.json")
        def create_message(account: str) -> Any:
            return self._record() or _created(_message(account, request.form))

        @app.get("/_fake/requests")
        def recorded() -> Any:
            return jsonify([r.__dict__ for r in self.requests])

        return app


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
        """Send one request to the fake, form-encoded like Twilio's own client does."""
        del timeout, allow_redirects
        sent = dict(headers or {})
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            sent["Authorization"] = f"Basic {token}"
        parts = urlsplit(uri)
        query = urlencode(params or {}, doseq=True)
        body = urlencode(data or {}, doseq=True)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
        response = self._client.open(
            parts.path, method=method, query_string=query, data=body, headers=sent
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
        self, fake: FakeTwilio | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.fake = fake or FakeTwilio()
        self._server: BaseWSGIServer = make_server(host, port, self.fake.app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL to give the ``twilio`` client (``client.api.base_url``)."""
        return f"http://{self._server.host}:{self._server.port}"

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
