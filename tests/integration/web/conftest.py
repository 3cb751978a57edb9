"""Web fixtures: log in as a demo account through the real forms (password, then TOTP)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tgd.app import limiter
from tgd.container import Platform
from tgd.db.writes import write_transaction
from tgd.services.demo import DEMO_ACCOUNTS
from tgd.services.users import mark_enrolled

ACCOUNTS = {a.username: a for a in DEMO_ACCOUNTS}


def csrf_of(html: str) -> str:
    """Return the CSRF token of the first form of a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def post_form(client: FlaskClient, url: str, data: dict[str, str]) -> object:
    """GET a form page, then POST it with its CSRF token."""
    token = csrf_of(client.get(url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def totp_code(platform: Platform, secret: str, *, step_offset: int = 0) -> str:
    """Return the TOTP code of ``secret`` at the platform's clock."""
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(platform.clock.now()) + step_offset)


def totp_now(platform: Platform, username: str, *, step_offset: int = 0) -> str:
    """Return the TOTP code of a demo account at the platform's clock."""
    return totp_code(platform, ACCOUNTS[username].totp_secret, step_offset=step_offset)


def log_in(
    app: Flask, platform: Platform, username: str, password: str, secret: str
) -> FlaskClient:
    """Log a new test client in through the forms (password, then TOTP code); return it."""
    client = app.test_client()
    response = post_form(client, "/connexion", {"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)  # type: ignore[attr-defined]
    if response.headers["Location"].endswith("/connexion/code"):  # type: ignore[attr-defined]
        response = post_form(client, "/connexion/code", {"code": totp_code(platform, secret)})
        assert response.status_code == 302  # type: ignore[attr-defined]
    return client


@pytest.fixture
def enrolled(demo: None, platform: Platform) -> None:
    """Demo data with the demo accounts' TOTP enrolled (as `tgd demo load` does)."""
    with write_transaction(platform.sessions) as session:
        mark_enrolled(session, list(ACCOUNTS), clock=platform.clock)


@pytest.fixture
def login(
    app: Flask, platform: Platform, enrolled: None, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], FlaskClient]:
    """Log a new test client in as a demo account; return the client (address limit off)."""
    monkeypatch.setattr(limiter, "enabled", False)  # many logins from one test address

    def _login(username: str) -> FlaskClient:
        account = ACCOUNTS[username]
        return log_in(app, platform, username, account.password, account.totp_secret)

    return _login
