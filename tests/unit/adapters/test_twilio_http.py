"""The carrier's REST client: the environment's proxy and CA read once, TLS verified, timeouts.

Against the fake carrier served on loopback, over HTTP and over TLS with a certificate of
a test authority: the real ``twilio`` client builds the requests, ``CarrierHttpClient``
sends them.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twilio.rest import Client

from tgd.adapters.carrier_http import CarrierHttpClient, pool_for
from tgd.adapters.fake_twilio import FakeTwilio, FakeTwilioServer
from tgd.adapters.twilio_telephony import CALL_EVENTS, TWILIO_API, TwilioTelephony
from tgd.ports import TelephonyError

PROXY = "http://proxy.example:3128"


def _telephony(api: str, *, timeout: float = 5.0) -> TwilioTelephony:
    client = Client("ACtest", "token", http_client=CarrierHttpClient(api, timeout=timeout))
    client.api.base_url = api
    return TwilioTelephony(client)


def _dial(telephony: TwilioTelephony) -> str:
    return telephony.add_participant(
        "tgd-abc",
        to="+33140001111",
        from_="+33199000000",
        end_conference_on_exit=False,
        status_callback="http://x/s",
        conference_status_callback="http://x/c",
        label="débordement & co",
    )


def test_the_environment_s_proxy_and_ca_are_read_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "centre-ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    pool = pool_for(TWILIO_API, pool_size=4)
    monkeypatch.delenv("HTTPS_PROXY")  # read once: later changes are not seen
    assert isinstance(pool, urllib3.ProxyManager)
    assert pool.proxy is not None and pool.proxy.url == PROXY
    assert pool.connection_pool_kw["ca_certs"] == str(bundle)
    assert pool.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"
    assert pool.proxy_headers == {}


def test_no_proxy_for_the_api_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", PROXY)
    monkeypatch.setenv("NO_PROXY", "api.twilio.com")
    assert not isinstance(pool_for(TWILIO_API, pool_size=4), urllib3.ProxyManager)


def test_a_proxy_s_credentials_go_in_its_authorization(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://centre%40tgd:s%C3%A9cret@proxy.example:3128")
    pool = pool_for(TWILIO_API, pool_size=4)
    assert isinstance(pool, urllib3.ProxyManager)
    expected = urllib3.make_headers(proxy_basic_auth="centre@tgd:sécret")
    assert pool.proxy_headers == expected


def test_a_dial_reaches_the_carrier_as_twilio_s_client_sends_it() -> None:
    with FakeTwilioServer(FakeTwilio(auth_token="token")) as server:
        sid = _dial(_telephony(server.url))
        call = server.fake.calls[sid]
    # Lists as repeated parameters, as requests encoded them; the label's "&" intact.
    assert call.call_events == frozenset(CALL_EVENTS)
    assert call.label == "débordement & co"
    assert call.status_callback == "http://x/s"


def test_a_carrier_error_keeps_its_status_and_code() -> None:
    with FakeTwilioServer(FakeTwilio(auth_token="another")) as server:
        with pytest.raises(TelephonyError) as refused:
            _dial(_telephony(server.url))
        assert refused.value.code == "refused:401:20003"
        server.fake.auth_token = "token"
        server.fake.fail_next(503)
        with pytest.raises(TelephonyError) as failed:
            _dial(_telephony(server.url))
        assert failed.value.code == "refused:503:20500"


def test_over_tls_the_carrier_s_certificate_is_verified(
    monkeypatch: pytest.MonkeyPatch, authority: TestAuthority
) -> None:
    with FakeTwilioServer(ssl_context=authority.server_context()) as server:
        assert server.url.startswith("https://127.0.0.1:")
        with pytest.raises(TelephonyError) as untrusted:
            _dial(_telephony(server.url))  # certifi's authorities do not know ours
        assert untrusted.value.code == "unreachable"
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority.bundle))
        assert _dial(_telephony(server.url)).startswith("CA")


def test_a_carrier_that_never_answers_fails_the_request_instead_of_holding_it() -> None:
    with _silent_server() as url:
        failed: list[BaseException] = []

        def dial() -> None:
            try:
                _dial(_telephony(url, timeout=0.3))
            except BaseException as exc:  # kept for the assertion
                failed.append(exc)

        worker = threading.Thread(target=dial, daemon=True)
        worker.start()
        worker.join(timeout=30)  # without a read timeout the dial waits for ever
        assert not worker.is_alive()
    assert len(failed) == 1 and isinstance(failed[0], TelephonyError)
    assert failed[0].code == "unreachable"


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> TestAuthority:
    return TestAuthority(tmp_path_factory.mktemp("ca"))


class TestAuthority:
    """A certificate authority of the test's own, and a server certificate for 127.0.0.1."""

    __test__ = False  # not a test class

    def __init__(self, where: Path) -> None:
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TGD test authority")])
        ca = (
            self._builder(ca_name, ca_name, ca_key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        cert = (
            self._builder(name, ca_name, key.public_key(), now)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        self.bundle = where / "ca.pem"
        self.bundle.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.chain = where / "server.pem"
        self.chain.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            + cert.public_bytes(serialization.Encoding.PEM)
        )

    @staticmethod
    def _builder(
        subject: x509.Name,
        issuer: x509.Name,
        key: ec.EllipticCurvePublicKey,
        now: datetime.datetime,
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.chain)
        return context


@contextlib.contextmanager
def _silent_server() -> Iterator[str]:
    """A loopback server that takes connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def take() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed
            accepted.append(connection)

    threading.Thread(target=take, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in accepted:
            connection.close()
