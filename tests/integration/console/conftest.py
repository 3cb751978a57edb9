"""Console fixtures: demo data, logged-in operators, and a carrier that signs its webhooks."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.integration.gateway.conftest import TwilioClient
from tgd.adapters.fake_twilio import FakeTwilio


@pytest.fixture
def carrier(app: Flask, enrolled: None) -> TwilioClient:
    """A carrier posting signed webhooks to the app (its own client, no session)."""
    return TwilioClient(app.test_client())


@pytest.fixture
def fake(app: Flask) -> FakeTwilio:
    """The in-process fake Twilio behind the app's telephony adapter."""
    telephony = app.extensions["tgd.telephony"]
    assert telephony.fake is not None
    return telephony.fake


def csrf_headers(client: FlaskClient) -> dict[str, str]:
    """Return the JSON API headers with the console page's CSRF token."""
    html = client.get("/console").get_data(as_text=True)
    token = html.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    return {"X-CSRFToken": token, "Accept": "application/json"}
