"""Security headers on every page, error pages included (R-56, E-10)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

Login = Callable[[str], FlaskClient]
REQUIRED = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=",
}


def _pages(app: Flask) -> list[str]:
    """Every GET route without parameters, plus error pages."""
    urls = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or set()) and not rule.arguments and rule.endpoint != "static"
    ]
    return [*urls, "/dossiers/999999", "/nulle-part"]


@pytest.mark.parametrize(
    "role", [None, "operateur", "parquet.paris", "comite", "admin", "auditeur"]
)
def test_every_page_carries_the_security_headers(
    role: str | None, app: Flask, login: Login, client: FlaskClient
) -> None:
    if role is not None:
        client = login(role)
    for url in _pages(app):
        response = client.get(url)
        for header, expected in REQUIRED.items():
            assert expected in response.headers.get(header, ""), (
                f"{header} missing on {url} ({role})"
            )
        if not url.startswith("/static"):
            assert response.headers["Cache-Control"] == "no-store", url


def test_csp_allows_no_inline_script(client: FlaskClient) -> None:
    csp = client.get("/connexion").headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "script-src 'self'" in csp
