"""The machines' door is an app of its own: no cookie session, no people's hooks, JSON errors."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from .conftest import LINE_1, TwilioClient

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
