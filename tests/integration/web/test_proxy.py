"""Behind a reverse proxy (issue 14): the real client address, believed only from the proxy.

With ``server.trusted_proxies`` set, a request from the proxy is taken at its
``X-Forwarded-For`` address: the login throttle counts each client apart and the
audit log names the client. A request from anywhere else keeps its own address,
whatever header it sends.
"""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.container import Platform
from tgd.db.models.audit import AuditEntry

from .conftest import csrf_of

PROXY = "10.20.0.2"


@pytest.fixture
def proxied(platform: Platform) -> Flask:
    """The app configured to trust the proxy at PROXY."""
    from tgd.app import create_app, limiter

    platform.settings = dataclasses.replace(
        platform.settings,
        server=dataclasses.replace(platform.settings.server, trusted_proxies=(PROXY,)),
    )
    app = create_app(platform.settings, platform=platform)
    limiter.reset()
    return app


def _failed_login(app: Flask, *, remote: str, forwarded: str) -> int:
    client = app.test_client()
    environ = {"REMOTE_ADDR": remote}
    headers = {"X-Forwarded-For": forwarded}
    page = client.get("/connexion", environ_base=environ, headers=headers).get_data(as_text=True)
    response = client.post(
        "/connexion",
        data={"csrf_token": csrf_of(page), "username": "quelquun", "password": "y" * 12},
        environ_base=environ,
        headers=headers,
    )
    return response.status_code


@pytest.mark.usefixtures("enrolled")
def test_the_throttle_counts_each_client_behind_the_proxy(
    proxied: Flask, platform: Platform, session: Session
) -> None:
    allowed = platform.settings.security.login_attempts_per_minute
    first = [_failed_login(proxied, remote=PROXY, forwarded="198.51.100.1") for _ in range(allowed)]
    assert first == [401] * allowed
    assert _failed_login(proxied, remote=PROXY, forwarded="198.51.100.1") == 429
    # Another operator behind the same proxy is not throttled for the first one's errors.
    assert _failed_login(proxied, remote=PROXY, forwarded="198.51.100.2") == 401
    sources = set(
        session.scalars(select(AuditEntry.source).where(AuditEntry.action == "login.failed"))
    )
    assert sources == {"198.51.100.1", "198.51.100.2"}  # the clients, never the proxy


@pytest.mark.usefixtures("enrolled")
def test_a_client_cannot_choose_its_address_with_the_header(
    proxied: Flask, platform: Platform, session: Session
) -> None:
    allowed = platform.settings.security.login_attempts_per_minute
    statuses = [
        _failed_login(proxied, remote="203.0.113.9", forwarded=f"192.0.2.{n}")
        for n in range(allowed + 1)
    ]
    assert statuses == [401] * allowed + [429]  # one client, whatever it claims
    sources = set(
        session.scalars(select(AuditEntry.source).where(AuditEntry.action == "login.failed"))
    )
    assert sources == {"203.0.113.9"}


def test_unknown_proxy_setting_is_refused() -> None:
    from tgd.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match=r"server\.trusted_proxies"):
        load_settings(environ={"TGD_SERVER_TRUSTED_PROXIES": "nginx.local"})
