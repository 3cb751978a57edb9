"""Gateway fixtures: settings with counter-call and overflow numbers, a signing carrier."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from tgd.adapters.fake_twilio import FakeTwilio
from tgd.settings import Settings

TOKEN = "test0123456789abcdef0123456789ab"
PUBLIC = "http://tgd.test"
ALERT_NUMBER = "+33199000000"
TEST_NUMBER = "+33199000001"
CANARY_NUMBER = "+33639980000"
COUNTER_NUMBER = "+33199000009"
OVERFLOW_NUMBER = "+33140009999"
LINE_1 = "+33612340001"  # affecté, file attribuée (demo)
LINE_3 = "+33612340003"  # mise en service, file en création (demo)
LINE_5 = "+33612340005"  # en attente, no file (demo)
UNIT_NUMBER = "+33140001111"  # commissariat du 11e (demo)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Give the test settings with the gateway's numbers configured."""
    return dataclasses.replace(
        settings,
        twilio=dataclasses.replace(settings.twilio, counter_call_number=COUNTER_NUMBER),
        alerts=dataclasses.replace(settings.alerts, overflow_number=OVERFLOW_NUMBER),
    )


class TwilioClient:
    """Posts webhooks to the test app as Twilio would: form-encoded and signed over PUBLIC."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.validator = RequestValidator(TOKEN)

    def post(
        self, path: str, params: dict[str, str], *, signed: bool = True, **kwargs: Any
    ) -> TestResponse:
        """POST a webhook; ``signed=False`` leaves the signature out."""
        headers = {"X-Twilio-Signature": self.signature(path, params)} if signed else {}
        return self.client.post(path, data=params, headers=headers, **kwargs)

    def signature(self, path: str, params: dict[str, str]) -> str:
        """Twilio's signature of a webhook to ``path`` with ``params``."""
        return self.validator.compute_signature(PUBLIC + path, params)

    def call(
        self, call_sid: str, from_: str | None = LINE_1, to: str = ALERT_NUMBER
    ) -> TestResponse:
        """A terminal calls the centre."""
        params = {"CallSid": call_sid, "To": to, "CallStatus": "ringing", "Direction": "inbound"}
        if from_ is not None:
            params["From"] = from_
        return self.post("/gateway/twilio/voice", params)


@pytest.fixture
def twilio(client: FlaskClient) -> TwilioClient:
    """Give a carrier that signs its webhooks."""
    return TwilioClient(client)


@pytest.fixture
def fake(app: Flask) -> FakeTwilio:
    """Give the in-process fake Twilio the app's telephony talks to."""
    telephony = app.extensions["tgd.telephony"]
    assert telephony.fake is not None
    return telephony.fake
