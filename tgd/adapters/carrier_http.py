"""The ``twilio`` client's transport to the carrier's REST API: urllib3, with timeouts.

Twilio's own ``TwilioHttpClient`` goes through ``requests``: a request's preparation, its
hooks, cookie jar and adapters cost 0.8-1.2 ms of CPU per overflow dial, against 0.5-0.8 ms
for the same request on urllib3 (which ``requests`` itself sends through), and under a
burst every dial's CPU is taken from the process that answers the next alert
(docs/gateway.md). It also sets no timeout by default: a carrier API that took the
connection and never answered would hold an escalation pass, and every overflow dial
behind it, for ever. ``twilio.http.HttpClient`` is the library's interface for a client
of one's own; this one keeps what ``requests`` did for us:

- the environment's proxy (``HTTPS_PROXY``, ``NO_PROXY``, credentials in its URL) and CA
  bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, else certifi's), resolved by
  ``requests``'s own rules, once, for the API's address (docs/deployment.md);
- certificates verified, connections kept open and pooled between requests, thread-safe;
- bodies encoded as ``requests`` encodes them (lists as repeated keys, ``None`` left out).

Nothing is retried: a POST that may have reached the carrier (a dial) is never sent twice
behind the caller's back; a failure is the caller's to handle (``TelephonyError``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import certifi
import requests
import urllib3
from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse

log = logging.getLogger("twilio.http_client")  # the library's own logger (tgd/logs.py)
FORM = "application/x-www-form-urlencoded"
JSON_TYPES = frozenset({"application/json", "application/scim+json"})


class CarrierUnreachable(TwilioException):  # type: ignore[misc]  # twilio is untyped
    """The carrier's API could not be reached, or did not answer in time."""


class CarrierHttpClient(HttpClient):  # type: ignore[misc]  # twilio is untyped
    """A ``twilio`` HTTP client on a urllib3 pool built once for the API's address."""

    def __init__(self, api: str, *, timeout: float, pool_size: int = 8) -> None:
        super().__init__(logger=log, is_async=False, timeout=timeout)
        self.pool = pool_for(api, pool_size=pool_size)

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
        """Send one request and return the carrier's answer, whatever its status."""
        seconds = self.timeout if timeout is None else timeout
        url, body, sent = encode_request(uri, params, data, headers, auth)
        self.log_request({"method": method.upper(), "url": url, "params": None, "headers": sent})
        try:
            answer = self.pool.request(
                method.upper(),
                url,
                body=body,
                headers=sent,
                timeout=urllib3.Timeout(connect=seconds, read=seconds),
                retries=False,
                redirect=allow_redirects,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise CarrierUnreachable(f"carrier unreachable ({type(exc).__name__})") from exc
        self.log_response(answer.status, answer)
        text = answer.data.decode(_charset(answer.headers), errors="replace")
        self._test_only_last_response = TwilioResponse(answer.status, text, answer.headers)
        return self._test_only_last_response


def encode_request(
    uri: str,
    params: Mapping[str, object] | None,
    data: Mapping[str, object] | None,
    headers: Mapping[str, str] | None,
    auth: tuple[str, str] | None,
) -> tuple[str, bytes | None, dict[str, str]]:
    """The URL, body and headers of a ``twilio`` client's request, as ``requests`` built them.

    Shared with the in-process fake's client (``WsgiHttpClient``), so the demo and the
    tests send the carrier the bytes production sends.
    """
    sent = dict(headers or {})
    if auth is not None:
        sent.update(urllib3.make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
    body = _body(data, sent)
    return _with_query(uri, params), body, sent


def pool_for(api: str, *, pool_size: int) -> urllib3.PoolManager:
    """The pool to reach ``api`` with the environment's proxy and CA, as ``requests`` reads them."""
    with requests.Session() as probe:
        found = probe.merge_environment_settings(api, {}, None, None, None)
    tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED", "maxsize": pool_size}
    tls.update(_trusted(found["verify"]))
    if found["cert"]:  # a client certificate (path, or certificate and key)
        cert = found["cert"]
        tls["cert_file"], tls["key_file"] = (cert, None) if isinstance(cert, str) else cert
    proxy = _proxy(found["proxies"], urlsplit(api).scheme)
    if proxy is None:
        return urllib3.PoolManager(num_pools=2, **tls)
    return urllib3.ProxyManager(
        proxy._replace(auth=None).url, num_pools=2, proxy_headers=_proxy_credentials(proxy), **tls
    )


def _trusted(verify: bool | str) -> dict[str, str]:
    where = certifi.where() if verify is True else str(verify)
    return {"ca_cert_dir": where} if os.path.isdir(where) else {"ca_certs": where}


def _proxy(proxies: Mapping[str, str], scheme: str) -> urllib3.util.Url | None:
    chosen = proxies.get(scheme) or proxies.get("all")
    return urllib3.util.parse_url(chosen) if chosen else None


def _proxy_credentials(proxy: urllib3.util.Url) -> dict[str, str]:
    if not proxy.auth:
        return {}
    user, _, password = proxy.auth.partition(":")
    return urllib3.make_headers(proxy_basic_auth=f"{unquote(user)}:{unquote(password)}")


def _with_query(uri: str, params: Mapping[str, object] | None) -> str:
    query = urlencode(list(_pairs(params or {})))
    if not query:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


def _body(data: Mapping[str, object] | None, headers: dict[str, str]) -> bytes | None:
    if not data:
        return None
    if headers.get("Content-Type") in JSON_TYPES:
        return json.dumps(data).encode()
    headers.setdefault("Content-Type", FORM)
    return urlencode(list(_pairs(data))).encode()


def _pairs(values: Mapping[str, object]) -> Iterator[tuple[str, object]]:
    """Key-value pairs as ``requests`` encodes them: a list repeats its key, None is left out."""
    for key, value in values.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is not None:
                yield key, item


def _charset(headers: Mapping[str, str]) -> str:
    for part in headers.get("Content-Type", "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip("\"'")
    return "utf-8"  # the API's JSON
