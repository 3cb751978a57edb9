"""Twilio's HTTP client reads the environment's proxy and CA settings once, at start."""

from __future__ import annotations

import pytest

from tgd.adapters.fake_twilio import FakeTwilioServer
from tgd.adapters.twilio_telephony import TWILIO_API, TwilioTelephony, http_client_for

PROXY = "http://proxy.example:3128"


def test_the_environment_s_proxy_and_ca_are_kept_on_the_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/centre-ca.pem")
    session = http_client_for(TWILIO_API).session
    assert session is not None
    monkeypatch.delenv("HTTPS_PROXY")  # read once: later changes are not seen
    settings = session.merge_environment_settings(
        f"{TWILIO_API}/2010-04-01/Calls.json", {}, None, None, None
    )
    assert settings["proxies"]["https"] == PROXY
    assert settings["verify"] == "/etc/ssl/centre-ca.pem"
    assert session.trust_env is False


def test_no_proxy_for_the_api_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    monkeypatch.setenv("NO_PROXY", "api.twilio.com")
    session = http_client_for(TWILIO_API).session
    assert session is not None
    assert session.proxies == {}


def test_a_request_does_not_read_the_environment_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from twilio.rest import Client

    with FakeTwilioServer() as server:
        client = Client("ACtest", "token", http_client=http_client_for(server.url))
        client.api.base_url = server.url

        def environment_read(*args: object, **kwargs: object) -> dict[str, str]:
            raise AssertionError("the environment was read again for a request")

        monkeypatch.setattr("requests.sessions.get_environ_proxies", environment_read)
        sid = TwilioTelephony(client).add_participant(
            "tgd-abc",
            to="+33140001111",
            from_="+33199000000",
            end_conference_on_exit=False,
            status_callback="http://x/s",
            conference_status_callback="http://x/c",
        )
    assert sid.startswith("CA")
