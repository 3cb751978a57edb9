"""The fake carrier delivers its callbacks as Twilio does: in parallel, over HTTP, signed."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from werkzeug.datastructures import MultiDict

from tgd.adapters.fake_twilio import FakeTwilio
from tgd.adapters.fake_twilio.api import CallProgress

LANES = 8


class _Platform:
    """A loopback endpoint that records each callback; ``CAslow`` is held until released."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        self.release = threading.Event()
        self.arrived = threading.Condition()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                if form["CallSid"] == "CAslow":
                    platform.release.wait(10)
                with platform.arrived:
                    platform.received.append((form["CallSid"], form["CallStatus"]))
                    platform.arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/status"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout=5)


@pytest.fixture
def platform() -> Iterator[_Platform]:
    endpoint = _Platform()
    yield endpoint
    endpoint.release.set()
    endpoint.server.shutdown()
    endpoint.server.server_close()


def _callback(fake: FakeTwilio, url: str, sid: str, status: str) -> None:
    fake._queue(url, {"CallSid": sid, "CallStatus": status}, 0)


def _lane(sid: str) -> int:
    return zlib.crc32(sid.encode()) % LANES


def test_a_slow_callback_does_not_hold_back_another_calls(platform: _Platform) -> None:
    fake = FakeTwilio()
    other = next(f"CA{n}" for n in range(100) if _lane(f"CA{n}") != _lane("CAslow"))
    progress = CallProgress(fake, lanes=LANES).start()
    try:
        _callback(fake, platform.url, "CAslow", "ringing")
        _callback(fake, platform.url, other, "ringing")
        assert platform.wait_for(1)
        assert platform.received == [(other, "ringing")]  # while CAslow's is still held
        platform.release.set()
        assert platform.wait_for(2)
    finally:
        progress.stop()


def test_the_callbacks_of_one_call_keep_their_order(platform: _Platform) -> None:
    fake = FakeTwilio()
    statuses = ["initiated", "ringing", "in-progress", "completed"]
    progress = CallProgress(fake, lanes=LANES).start()
    try:
        for status in statuses:
            _callback(fake, platform.url, "CAone", status)
        assert platform.wait_for(len(statuses))
    finally:
        progress.stop()
    assert platform.received == [("CAone", status) for status in statuses]


def _dial(fake: FakeTwilio, **asked: list[str]) -> list[str]:
    """Dial a participant as the ``twilio`` client does; return the callbacks it plays."""
    form = [("To", "+33100000000"), ("From", "+33100000001")]
    form += [("StatusCallback", "http://platform/status")]
    form += [("ConferenceStatusCallback", "http://platform/conference")]
    form += [(name, event) for name, events in asked.items() for event in events]
    answer = fake.app.test_client().post(
        "/2010-04-01/Accounts/ACx/Conferences/tgd-x/Participants.json",
        data=MultiDict(form),
        headers={"Authorization": "Basic QUN4OnNlY3JldA=="},  # ACx:secret
    )
    assert answer.status_code == 201
    sid = answer.get_json()["call_sid"]
    fake.app.test_client().delete(
        f"/2010-04-01/Accounts/ACx/Conferences/tgd-x/Participants/{sid}.json",
        headers={"Authorization": "Basic QUN4OnNlY3JldA=="},
    )
    return [
        w.params.get("CallStatus") or w.params["StatusCallbackEvent"]
        for w in fake.take_due(now=float("inf"))
    ]


def test_the_fake_sends_only_the_events_it_was_asked_for() -> None:
    fake = FakeTwilio(auth_token="secret", ring_after=0.0, answer_after=0.0)
    every = _dial(
        fake,
        StatusCallbackEvent=["initiated", "ringing", "answered", "completed"],
        ConferenceStatusCallbackEvent=["start", "end", "join", "leave"],
    )
    assert every == [
        "initiated",
        "ringing",
        "in-progress",
        "participant-join",
        "participant-leave",
        "completed",
    ]
    # One value with spaces; no conference event named: only its start and end.
    assert _dial(fake, StatusCallbackEvent=["ringing answered completed"]) == [
        "ringing",
        "in-progress",
        "completed",
    ]
    # None named: Twilio's defaults, the end of the call only.
    assert _dial(fake) == ["completed"]
