"""GET /healthz: 200 when the database answers, 503 otherwise, with security headers."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient


def test_healthz_answers_ok_with_the_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_is_gone(app: Flask, client: FlaskClient) -> None:
    platform = app.extensions["tgd"]

    class Broken:
        def __call__(self) -> object:
            raise ConnectionError("database down")

    platform.sessions = Broken()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
