"""Honest health (issue 14): /healthz is liveness, /readyz asks the dependencies, /metrics.

``/readyz`` answers 200 only when the database is at the head revision, Redis
answers when configured and a scheduler renewed its lease recently; otherwise 503
with the reason. ``/metrics`` is Prometheus text for allowed addresses only.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from twilio.request_validator import RequestValidator

from tests.conftest import stamp_revision
from tgd.container import Platform
from tgd.jobs import lease
from tgd.readiness import head_revision

PUBLIC = "http://tgd.test"
TOKEN = "test0123456789abcdef0123456789ab"


@pytest.fixture
def led(platform: Platform) -> None:
    """A scheduler holds the lease."""
    assert lease.acquire(platform.sessions, lease.SCHEDULER, "test:1", timedelta(seconds=30))


def test_healthz_is_liveness_even_without_the_database(app: Flask, client: FlaskClient) -> None:
    platform = app.extensions["tgd"]

    class Broken:
        def __call__(self) -> object:
            raise ConnectionError("database down")

    platform.sessions = Broken()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.usefixtures("led")
def test_readyz_is_ready_at_the_head_revision_with_a_leader(
    client: FlaskClient, engine: Engine
) -> None:
    stamp_revision(engine, head_revision())
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json == {
        "status": "ready",
        "checks": {"database": "ok", "schema": "head", "scheduler": "ok"},
    }


@pytest.mark.usefixtures("led")
def test_readyz_refuses_a_database_never_migrated(client: FlaskClient) -> None:
    response = client.get("/readyz")  # built from the models, no alembic_version
    assert response.status_code == 503
    assert response.json["checks"]["schema"] == "none"
    assert any("tgd db upgrade" in reason for reason in response.json["reasons"])


@pytest.mark.usefixtures("led")
def test_readyz_refuses_a_schema_behind_the_code(client: FlaskClient, engine: Engine) -> None:
    stamp_revision(engine, "0123456789ab")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["schema"] == "0123456789ab"


def test_readyz_refuses_without_a_scheduler_leader(
    client: FlaskClient, engine: Engine, platform: Platform
) -> None:
    stamp_revision(engine, head_revision())
    assert client.get("/readyz").json["checks"]["scheduler"] == "none"
    # A leader that died long ago: its lease expired more than the allowed delay ago.
    assert lease.acquire(platform.sessions, lease.SCHEDULER, "dead:1", timedelta(seconds=-120))
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["checks"]["scheduler"] == "stale"


@pytest.mark.usefixtures("led")
def test_readyz_refuses_when_the_configured_redis_is_gone(
    platform: Platform, engine: Engine
) -> None:
    from tgd.app import create_app

    stamp_revision(engine, head_revision())
    platform.settings = dataclasses.replace(platform.settings, redis_url="redis://127.0.0.1:9/0")
    client = create_app(platform.settings, platform=platform).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["redis"] == "unreachable"


def test_readyz_refuses_when_the_database_is_gone(app: Flask, client: FlaskClient) -> None:
    from sqlalchemy import create_engine

    platform = app.extensions["tgd"]
    platform.engine = create_engine("sqlite:////nonexistent-dir/tgd.db")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "unreachable"


@pytest.mark.usefixtures("demo", "led")
def test_metrics_speak_prometheus_and_count_alerts(client: FlaskClient, engine: Engine) -> None:
    stamp_revision(engine, head_revision())

    def received() -> float:
        body = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).text
        for line in body.splitlines():
            if line.startswith('tgd_alerts_received_total{kind="alert",outcome="recorded"}'):
                return float(line.split()[-1])
        return 0.0

    before = received()
    params = {"CallSid": "CAmetrics1", "From": "+33612340001", "To": "+33199000000"}
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/gateway/twilio/voice", params)
    assert (
        client.post(
            "/gateway/twilio/voice", data=params, headers={"X-Twilio-Signature": signature}
        ).status_code
        == 200
    )
    assert received() == before + 1
    body = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).text
    for name in (
        "tgd_webhook_duration_seconds",
        "tgd_job_last_success_timestamp_seconds",
        "tgd_service_level_breaches_total",
        "tgd_alerts_unclaimed",
        "tgd_database_up",
        "tgd_spool_pending",
        "tgd_scheduler_lease_remaining_seconds",
        "tgd_write_gate_hold_seconds",
        "tgd_write_gate_wait_seconds",
        "tgd_write_gate_process_wait_seconds",
    ):
        assert f"# TYPE {name}" in body or f"# TYPE {name.removesuffix('_total')}" in body, name
    assert "tgd_alerts_unclaimed 1.0" in body
    assert 'tgd_write_gate_holds_total{holder="gateway"}' in body  # the alert's batch
    assert 'tgd_write_gate_waits_total{priority="alert"}' in body
    gateway = {
        line.split()[0]: float(line.split()[1])
        for line in body.splitlines()
        if line.startswith("tgd_gateway_")
    }
    assert gateway["tgd_gateway_units_total"] >= 1 and gateway["tgd_gateway_batches_total"] >= 1
    assert gateway["tgd_gateway_batch_seconds_total"] > 0
    assert gateway["tgd_gateway_batch_cpu_seconds_total"] > 0
    assert {
        "tgd_gateway_queue_seconds_total",
        "tgd_gateway_units_dropped_total",
        "tgd_gateway_batches_yielded_total",
        "tgd_gateway_calls_written_here_total",
    } <= set(gateway)
    assert "+33612340001" not in body and "12340001" not in body  # labels are codes only


def test_metrics_are_not_served_to_other_addresses(client: FlaskClient) -> None:
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 404


def test_metrics_from_the_multiprocess_directory(
    client: FlaskClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tgd import metrics

    monkeypatch.setenv(metrics.ENV, "")  # restored (unset) after the test
    directory = metrics.prepare(tmp_path / "metrics" / "app-1")
    (directory / "stale.db").write_bytes(b"")  # an earlier run's file is wiped by prepare
    assert metrics.prepare(directory) == directory and not list(directory.iterdir())
    body = client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).text
    assert "# TYPE tgd_database_up gauge" in body
