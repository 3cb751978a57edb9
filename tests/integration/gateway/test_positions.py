"""Positions (R-28, R-28b, R-54): AML or simple SMS, signed HTTPS, precise 4xx on bad input."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tgd.adapters.clock import FrozenClock
from tgd.adapters.crypto import EnvelopeCipher
from tgd.db.models.audit import AuditEntry
from tgd.db.models.lines import Line
from tgd.db.models.operations import ConsoleEvent
from tgd.db.models.positions import Position
from tgd.domain.alerts import PositionSource
from tgd.domain.positions import sign_terminal_body
from tgd.services import positions

from .conftest import LINE_1, LINE_5, TwilioClient

pytestmark = pytest.mark.usefixtures("demo")
AML = (
    'A"ML=1;lt=+48.85890;lg=+2.38000;rd=14;top=20261123092900;lc=68;pm=G;'
    "si=208150000000001;ei=350000000000001;mcc=208;mnc=15;ml=126"
)


def _sms(twilio: TwilioClient, body: str, *, sid: str = "SM1", from_: str = LINE_1) -> TestResponse:
    return twilio.post(
        "/gateway/twilio/sms",
        {"MessageSid": sid, "From": from_, "To": "+33199000000", "Body": body},
    )


def test_aml_sms_is_stored_encrypted_and_attached_to_the_ongoing_alert(
    twilio: TwilioClient, session: Session, cipher: EnvelopeCipher
) -> None:
    twilio.call("CA1")
    response = _sms(twilio, AML)
    assert response.status_code == 200 and "<Response" in response.get_data(as_text=True)
    position = session.scalar(select(Position))
    assert position is not None and position.alert_id is not None and position.file_id is not None
    assert position.source == PositionSource.GNSS and position.accuracy_m == 14
    assert position.confidence_pct == 68 and position.channel == "sms"
    assert b"48.8" not in position.coords_enc
    assert positions.read_coordinates(session, position, cipher=cipher) == (48.8589, 2.38)
    event = session.scalar(select(ConsoleEvent).where(ConsoleEvent.kind == "position_received"))
    assert event is not None and event.payload["alert_id"] == position.alert_id
    assert "48.8" not in json.dumps(event.payload)


def test_repeated_sms_is_stored_once(twilio: TwilioClient, session: Session) -> None:
    assert _sms(twilio, AML).status_code == 200
    assert _sms(twilio, AML).status_code == 200
    assert session.scalar(select(func.count()).select_from(Position)) == 1


def test_simple_format_sms(twilio: TwilioClient, session: Session) -> None:
    assert _sms(twilio, "POS -20.88300 55.45200 120 20261123092500 W").status_code == 200
    position = session.scalar(select(Position))
    assert (
        position is not None
        and position.source == PositionSource.WIFI
        and position.alert_id is None
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("POS 48.8 2.3", 400, "invalid_format"),
        (AML.replace("lt=+48.85890", "lt=+98.85890"), 422, "out_of_range"),
        (AML.replace("lg=+2.38000", "lg=-181.0"), 422, "out_of_range"),
        (AML.replace("rd=14", "rd=-5"), 422, "out_of_range"),
        (AML.replace("top=20261123092900", "top=20261123100000"), 422, "in_future"),
        (AML.replace("top=20261123092900", "top=20261399999999"), 422, "invalid_value"),
        (AML.replace("pm=G", "pm=N"), 422, "no_position"),
        (AML.replace("lt=+48.85890;", ""), 400, "missing_field"),
    ],
)
def test_bad_sms_gets_a_precise_4xx(
    twilio: TwilioClient, session: Session, body: str, status: int, code: str
) -> None:
    response = _sms(twilio, body)
    assert response.status_code == status
    assert response.json is not None and response.json["error"] == code
    assert session.scalar(select(Position)) is None


def test_sms_without_body_is_400(twilio: TwilioClient) -> None:
    response = twilio.post("/gateway/twilio/sms", {"MessageSid": "SM9", "From": LINE_1})
    assert response.status_code == 400


class Terminal:
    """A data-capable terminal posting signed positions."""

    def __init__(self, client: FlaskClient, key_id: str, secret: str, clock: FrozenClock) -> None:
        self.client, self.key_id, self.secret, self.clock = client, key_id, secret, clock

    def post(
        self,
        payload: Any,
        *,
        nonce: str = "n" * 20,
        skew: int = 0,
        secret: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        body = raw if raw is not None else json.dumps(payload).encode()
        timestamp = str(int(self.clock.now().timestamp()) + skew)
        signature = sign_terminal_body(secret or self.secret, timestamp, nonce, body)
        sent = {
            "X-TGD-Key": self.key_id,
            "X-TGD-Timestamp": timestamp,
            "X-TGD-Nonce": nonce,
            "X-TGD-Signature": signature,
            "Content-Type": "application/json",
            **(headers or {}),
        }
        return self.client.post("/gateway/positions", data=body, headers=sent)


@pytest.fixture
def terminal(
    client: FlaskClient, session: Session, cipher: EnvelopeCipher, clock: FrozenClock
) -> Terminal:
    line = session.scalar(select(Line).where(Line.msisdn == LINE_5))  # no file: the line's own key
    assert line is not None
    credential = positions.credential_for_line(session, line, cipher=cipher)
    assert credential is not None  # the demo gives every line one
    session.rollback()
    return Terminal(client, credential[0], credential[1], clock)


GOOD = {
    "lat": -20.883,
    "lon": 55.452,
    "accuracy_m": 8,
    "captured_at": "2026-11-23T09:29:00Z",
    "source": "gnss",
}


def test_signed_position_is_stored(
    terminal: Terminal, session: Session, cipher: EnvelopeCipher
) -> None:
    response = terminal.post(GOOD)
    assert response.status_code == 201 and response.json is not None
    position = session.get(Position, response.json["position_id"])
    assert position is not None and position.channel == "https" and position.file_id is None
    line = session.get(Line, position.line_id)
    assert line is not None and position.data_key_id == line.data_key_id
    assert positions.read_coordinates(session, position, cipher=cipher) == (-20.883, 55.452)


def test_replayed_nonce_is_409_and_audited(terminal: Terminal, session: Session) -> None:
    assert terminal.post(GOOD).status_code == 201
    replay = terminal.post(GOOD)
    assert (
        replay.status_code == 409
        and replay.json is not None
        and replay.json["error"] == "replayed_nonce"
    )
    assert session.scalar(select(func.count()).select_from(Position)) == 1
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.action == "gateway.position_refused")
    )
    assert entry is not None and entry.details == {"reason": "replayed_nonce"}


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"secret": "wrong"}, 403, "bad_signature"),
        ({"skew": 3600}, 403, "stale_timestamp"),
        ({"skew": -3600}, 403, "stale_timestamp"),
        ({"headers": {"X-TGD-Key": "tk_unknown"}}, 403, "unknown_key"),
        ({"headers": {"X-TGD-Signature": ""}}, 403, "missing_signature"),
        ({"nonce": "short"}, 422, "invalid_value"),
        ({"raw": b"{not json"}, 400, "invalid_body"),
        ({"raw": b"[1, 2]"}, 400, "invalid_body"),
    ],
)
def test_bad_signed_position_gets_a_precise_4xx(
    terminal: Terminal, kwargs: dict[str, Any], status: int, code: str
) -> None:
    response = terminal.post(GOOD, **kwargs)
    assert response.status_code == status
    assert response.json is not None and response.json["error"] == code


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"lat": 91}, 422, "out_of_range", "lat"),
        ({"lon": "2.3"}, 422, "invalid_value", "lon"),
        ({"accuracy_m": -1}, 422, "out_of_range", "accuracy"),
        ({"captured_at": "2026-11-23T10:30:00Z"}, 422, "in_future", "time"),
        ({"captured_at": "2026-11-23T09:29:00"}, 422, "invalid_value", "captured_at"),
        ({"source": "magic"}, 422, "invalid_value", "source"),
        ({"lat": None}, 422, "invalid_value", "lat"),
    ],
)
def test_absurd_signed_position_is_refused(
    terminal: Terminal, session: Session, change: dict[str, Any], status: int, code: str, field: str
) -> None:
    response = terminal.post({**GOOD, **change})
    assert response.status_code == status
    assert response.json == {"error": code, "field": field, "message": response.json["message"]}  # type: ignore[index]
    assert session.scalar(select(Position)) is None


def test_position_within_the_clock_tolerance_is_accepted(terminal: Terminal) -> None:
    ahead = (terminal.clock.now() + timedelta(minutes=4)).isoformat()
    assert terminal.post({**GOOD, "captured_at": ahead}).status_code == 201
