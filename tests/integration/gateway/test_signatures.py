"""R-54, E-04: every gateway route refuses unsigned or wrongly signed requests, and audits it."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from tgd.db.models.alerts import Alert
from tgd.db.models.audit import AuditEntry

from .conftest import LINE_1, PUBLIC, TOKEN, TwilioClient

pytestmark = pytest.mark.usefixtures("demo")
PARAMS = {
    "CallSid": "CAsig",
    "From": LINE_1,
    "To": "+33199000000",
    "MessageSid": "SMsig",
    "Body": "x",
}


def _gateway_routes(app: Flask) -> list[str]:
    door: Flask = app.extensions["tgd.gateway.door"]
    rules = [r for r in door.url_map.iter_rules() if r.rule.startswith("/gateway")]
    assert len(rules) >= 5
    for rule in rules:
        assert rule.methods is not None and "GET" not in rule.methods, rule.rule
    return [r.rule for r in rules]


def test_every_gateway_route_refuses_unsigned_requests(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    for path in _gateway_routes(app):
        response = client.post(path, data=PARAMS)
        assert response.status_code == 403, path
        assert response.json is not None and response.json["error"] == "missing_signature"
    refused = session.scalars(
        select(AuditEntry).where(AuditEntry.action.like("gateway.%_refused"))
    ).all()
    assert {e.object_id for e in refused} == set(_gateway_routes(app))
    assert session.scalar(select(Alert)) is None


def test_every_gateway_route_refuses_a_wrong_signature(app: Flask, client: FlaskClient) -> None:
    wrong = RequestValidator("another-token-0123456789abcdef")
    for path in _gateway_routes(app):
        headers = {
            "X-Twilio-Signature": wrong.compute_signature(PUBLIC + path, PARAMS),
            "X-TGD-Signature": "00",
        }
        response = client.post(path, data=PARAMS, headers=headers)
        assert response.status_code == 403, path


def test_signature_is_checked_against_the_configured_url_not_the_host_header(
    client: FlaskClient,
) -> None:
    validator = RequestValidator(TOKEN)
    path = "/gateway/twilio/voice"
    spoofed = validator.compute_signature("http://attacker.example" + path, PARAMS)
    assert (
        client.post(
            path, data=PARAMS, headers={"X-Twilio-Signature": spoofed, "Host": "attacker.example"}
        ).status_code
        == 403
    )
    good = validator.compute_signature(PUBLIC + path, PARAMS)
    response = client.post(
        path, data=PARAMS, headers={"X-Twilio-Signature": good, "X-Forwarded-Host": "x"}
    )
    assert response.status_code == 200


def test_every_parameter_and_the_query_string_are_signed(
    twilio: TwilioClient, client: FlaskClient
) -> None:
    validator = RequestValidator(TOKEN)
    path = "/gateway/twilio/voice"
    signature = validator.compute_signature(PUBLIC + path, PARAMS)
    tampered = {**PARAMS, "From": "+33612340002"}
    assert (
        client.post(path, data=tampered, headers={"X-Twilio-Signature": signature}).status_code
        == 403
    )
    with_query = validator.compute_signature(PUBLIC + path + "?kind=x", PARAMS)
    assert (
        client.post(
            path + "?kind=x", data=PARAMS, headers={"X-Twilio-Signature": with_query}
        ).status_code
        == 200
    )
    assert (
        client.post(
            path + "?kind=y", data=PARAMS, headers={"X-Twilio-Signature": with_query}
        ).status_code
        == 403
    )


def test_refusal_audit_holds_no_phone_number(client: FlaskClient, session: Session) -> None:
    client.post("/gateway/twilio/voice", data=PARAMS)
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.action == "gateway.signature_refused")
    )
    assert entry is not None and entry.actor == "carrier"
    assert LINE_1 not in str(entry.details) + str(entry.object_id) + str(entry.source)
