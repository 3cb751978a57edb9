"""Navette fixtures: demo data, logins through the real forms, small helpers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.app import limiter
from tgd.container import Platform
from tgd.db.models.users import User
from tgd.services.demo import DEMO_ACCOUNTS
from tgd.services.users import mark_enrolled

ACCOUNTS = {a.username: a for a in DEMO_ACCOUNTS}
FREE_LINE = "M 75 75056 05 1"  # demo: en attente d'affectation, Paris
ASSIGNED_LINE = "M 75 75056 01 1"  # demo: affecté, Camille Lefebvre-Démo
REUNION_FREE_LINE = "M 974 97411 02 1"  # demo: en attente, Saint-Denis


def csrf_of(html: str) -> str:
    """Return the CSRF token of the first form of a page."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def post_form(client: FlaskClient, url: str, data: dict[str, str]) -> Any:
    """GET a form page, then POST it with its CSRF token."""
    token = csrf_of(client.get(url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


@pytest.fixture
def enrolled(demo: None, platform: Platform) -> None:
    """Demo data with the demo accounts' TOTP enrolled (as `tgd demo load` does)."""
    with platform.sessions.begin() as session:
        mark_enrolled(session, list(ACCOUNTS), clock=platform.clock)


@pytest.fixture
def login(
    app: Flask, platform: Platform, enrolled: None, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], FlaskClient]:
    """Log a new test client in as a demo account."""
    monkeypatch.setattr(limiter, "enabled", False)

    def _login(username: str) -> FlaskClient:
        client = app.test_client()
        response = post_form(
            client, "/connexion", {"username": username, "password": ACCOUNTS[username].password}
        )
        assert response.status_code == 302
        if response.headers["Location"].endswith("/connexion/code"):
            totp = pyotp.TOTP(ACCOUNTS[username].totp_secret)
            code = totp.generate_otp(totp.timecode(platform.clock.now()))
            response = post_form(client, "/connexion/code", {"code": code})
            assert response.status_code == 302
        return client

    return _login


def user(session: Session, username: str) -> User:
    """Return a demo user."""
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found
