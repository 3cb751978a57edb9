"""Escalation is a leader duty (issue 11, E-06, R-23b), proved with real processes.

Three web processes (``tgd run --no-scheduler``) and one ``tgd scheduler`` share one
database and one fake Twilio served over HTTP. An unclaimed alert must escalate once
and dial the overflow number once, whichever process received it.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from tests.browser.live import TGD, TOKEN, free_port, platform_env, prepare, running
from tests.conftest import PG_URL, reset_postgres
from tgd.adapters.fake_twilio import FakeTwilioServer
from tgd.db.models import Alert, AuditEntry, CallLeg
from tgd.db.session import make_engine
from tgd.domain.alerts import LegRole

OVERFLOW = "+33600000077"


@contextmanager
def scheduler(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The dedicated scheduler process of the multi-process mode."""
    with log.open("wb") as out:
        process = subprocess.Popen([TGD, "scheduler"], env=env, stdout=out, stderr=out)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_an_unclaimed_alert_escalates_and_overflows_once_with_three_web_processes(
    backend: str, tmp_path: Path
) -> None:
    extra = {
        "alerts_escalate_after_seconds": "2",
        "alerts_overflow_after_seconds": "4",
        "alerts_overflow_number": OVERFLOW,
    }
    if backend == "postgres":
        if not PG_URL:
            pytest.skip("PostgreSQL not available: set TGD_TEST_DATABASE_URL (make test does)")
        reset_postgres(PG_URL)
        extra["database_url"] = PG_URL
    with FakeTwilioServer() as carrier, ExitStack() as stack:
        extra["twilio_api_base_url"] = carrier.url
        ports = [free_port() for _ in range(3)]
        envs = [platform_env(tmp_path, port, **extra) for port in ports]
        prepare(envs[0])
        webs = [
            stack.enter_context(running(env, port, tmp_path / f"web-{port}.log", "--no-scheduler"))
            for env, port in zip(envs, ports, strict=True)
        ]
        stack.enter_context(scheduler(envs[0], tmp_path / "scheduler.log"))
        target = webs[1].url + "/gateway/twilio/voice"
        params = {
            "CallSid": "CAleader0000000000000000000000001",
            "From": "+33612340001",
            "To": "+33199000000",
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
        signature = RequestValidator(TOKEN).compute_signature(target, params)
        answer = requests.post(
            target, data=params, headers={"X-Twilio-Signature": signature}, timeout=20
        )
        assert answer.status_code == 200 and "<Conference" in answer.text
        engine = make_engine(envs[0]["TGD_DATABASE_URL"], watch_writes=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                leg = conn.execute(
                    select(CallLeg.call_sid)
                    .join(Alert, Alert.id == CallLeg.alert_id)
                    .where(CallLeg.role == LegRole.OVERFLOW, Alert.call_sid == params["CallSid"])
                ).first()
            if leg is not None and leg.call_sid:
                break
            time.sleep(0.5)
        time.sleep(3)  # time for any other process to escalate or dial it again
        with engine.connect() as conn:
            alert = conn.execute(
                select(Alert.id, Alert.escalated_at, Alert.overflowed_at).where(
                    Alert.call_sid == params["CallSid"]
                )
            ).one()
            actions = dict(
                conn.execute(
                    select(AuditEntry.action, func.count())
                    .where(
                        AuditEntry.action.in_(["alert.escalate", "alert.overflow"]),
                        AuditEntry.object_id == str(alert.id),
                    )
                    .group_by(AuditEntry.action)
                ).all()
            )
            legs = conn.scalar(
                select(func.count())
                .select_from(CallLeg)
                .where(CallLeg.role == LegRole.OVERFLOW, CallLeg.alert_id == alert.id)
            )
        engine.dispose()
        # The territory's backup centre, or the overflow number: one dial into the bridge.
        dials = [r for r in carrier.fake.requests if r.path.endswith("/Participants.json")]
    assert alert.escalated_at is not None and alert.overflowed_at is not None
    assert actions == {"alert.escalate": 1, "alert.overflow": 1}
    assert legs == 1
    assert len(dials) == 1  # the backup line was dialled once, not once per process
