"""The machines' door is an app of its own: no cookie session, no people's hooks, JSON errors."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder

from tests.cycles import assert_no_cycle_made

from .conftest import ALERT_NUMBER, LINE_1, PUBLIC, TwilioClient

pytestmark = pytest.mark.usefixtures("demo")
HARDENED = ("Content-Security-Policy", "X-Content-Type-Options", "Strict-Transport-Security")


def test_the_gateway_routes_are_served_by_the_machines_app_only(app: Flask) -> None:
    door: Flask = app.extensions["tgd.gateway.door"]
    assert door is not app
    assert not [r for r in app.url_map.iter_rules() if r.rule.startswith("/gateway")]
    assert "/gateway/twilio/voice" in {r.rule for r in door.url_map.iter_rules()}
    assert door.extensions is app.extensions  # one platform for both doors
    assert door.secret_key is None  # so Flask gives each webhook a null session


def test_a_webhook_neither_reads_nor_writes_a_cookie_session(
    twilio: TwilioClient, client: FlaskClient
) -> None:
    # A session cookie sent with a webhook is not even read: no answer sets one.
    client.set_cookie("tgd_session", "not-a-signed-session")
    response = twilio.call("CAdoor1")
    assert response.status_code == 200
    assert "<Conference" in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers
    for header in HARDENED:  # E-10 on both doors
        assert header in response.headers, header
    assert response.headers["Cache-Control"] == "no-store"


def test_the_people_pages_still_get_their_session(client: FlaskClient) -> None:
    response = client.get("/connexion")
    assert response.status_code == 200
    assert "tgd_session" in response.headers.get("Set-Cookie", "")


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("post", "/gateway/nulle-part", 404, "not_found"),
        ("get", "/gateway/twilio/voice", 405, "method_not_allowed"),
    ],
)
def test_a_machine_gets_an_english_json_error(
    client: FlaskClient, method: str, path: str, status: int, error: str
) -> None:
    response = getattr(client, method)(path, data={"From": LINE_1})
    assert response.status_code == status
    assert response.json is not None and response.json["error"] == error
    assert response.json["message"]
    assert "Set-Cookie" not in response.headers


def test_a_body_too_large_is_refused_before_any_work(client: FlaskClient) -> None:
    response = client.post(
        "/gateway/positions", data=b"x" * (16 * 1024 * 1024 + 1), content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json is not None and response.json["error"] == "request_entity_too_large"


def _wsgi_post(
    app: Flask, twilio: TwilioClient, path: str, params: dict[str, str]
) -> tuple[str, bytes]:
    """POST a signed webhook straight through the app's WSGI stack, as gunicorn calls it.

    Not through Flask's test client, which keeps each request in its environ (a cycle).
    """
    environ = EnvironBuilder(
        path=path,
        method="POST",
        data=params,
        headers={"X-Twilio-Signature": twilio.signature(path, params)},
        base_url=PUBLIC,
    ).get_environ()
    statuses: list[str] = []
    body = b"".join(app(environ, lambda status, _headers, _info=None: statuses.append(status)))
    return statuses[0], body


def _an_alerts_webhooks(app: Flask, twilio: TwilioClient, call_sid: str) -> None:
    """The voice webhook, the conference's start and the caller's join, then the hang-up."""
    status, twiml = _wsgi_post(
        app,
        twilio,
        "/gateway/twilio/voice",
        {"CallSid": call_sid, "From": LINE_1, "To": ALERT_NUMBER, "CallStatus": "ringing"},
    )
    assert status == "200 OK"
    found = re.search(rb"<Conference[^>]*>([^<]+)</Conference>", twiml)
    assert found is not None, twiml
    for event in ("conference-start", "participant-join"):
        params = {
            "ConferenceSid": "CF" + call_sid,
            "FriendlyName": found.group(1).decode(),
            "StatusCallbackEvent": event,
            "CallSid": call_sid,
        }
        assert _wsgi_post(app, twilio, "/gateway/twilio/conference/status", params)[0] == "200 OK"
    hang_up = {"CallSid": call_sid, "CallStatus": "completed", "CallDuration": "3"}
    assert _wsgi_post(app, twilio, "/gateway/twilio/voice/status", hang_up)[0] == "200 OK"


def test_an_alerts_webhooks_leave_no_reference_cycle(app: Flask, twilio: TwilioClient) -> None:
    # A reference cycle per webhook is what made the collector stop the whole process for
    # 13-28 ms every few seconds of a burst (docs/gateway.md, "The garbage collector's
    # pauses"): werkzeug's matcher made one per request until tgd.routing.
    for n in range(3):  # the first requests fill caches and import lazily
        _an_alerts_webhooks(app, twilio, f"CAwarm{n}")

    def ten_alerts(attempt: int) -> None:
        for n in range(10):
            _an_alerts_webhooks(app, twilio, f"CAcycle{attempt}-{n}")

    assert_no_cycle_made(ten_alerts)
