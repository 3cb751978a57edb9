"""The canary (R-24c): a synthetic alert through the whole chain, with an alarm when it is late.

``run_canary`` calls from the dedicated canary line (``gateway.canary_number``)
with a correctly signed voice webhook, then checks each link in turn: the
answer bridges the caller; the alert is stored; its console event is in the
outbox (E-02, what the consoles are pushed); the canary acknowledges it and
hangs up. Each step must complete within ``gateway.canary_deadline_seconds``
of the start; otherwise a supervisor alarm is raised (outbox event, audit
entry, CRITICAL log). Canary alerts are marked ``is_canary`` with nature
``canari`` and never count in reports. Run it on a schedule (``tgd canary``
from a timer, every few minutes; the scheduler will call ``run_canary``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select

from tgd.adapters.fake_twilio.carrier import Carrier, new_sid
from tgd.container import Platform
from tgd.db.models.alerts import Alert
from tgd.db.models.operations import ConsoleEvent
from tgd.db.writes import write_transaction
from tgd.services import alerts, events


@dataclass(frozen=True)
class CanaryResult:
    """How far the canary got, and how long it took."""

    ok: bool
    step: str  # the last step reached: webhook, stored, published, acknowledged
    elapsed_s: float
    alert_id: int | None = None


def run_canary(platform: Platform, *, url: str, poll_s: float = 0.05) -> CanaryResult:
    """Place a synthetic alert through the chain; raise an alarm if a step misses the deadline."""
    settings = platform.settings
    deadline_s = settings.gateway.canary_deadline_seconds
    carrier = Carrier(
        platform_url=url,
        public_base_url=settings.twilio.public_base_url,
        auth_token=settings.twilio.auth_token,
        timeout=deadline_s,
    )
    start = time.monotonic()
    sid = new_sid("CA")
    step, alert_id = "webhook", None
    try:
        _, answer = carrier.incoming_call(
            from_=settings.gateway.canary_number, to=settings.gateway.alert_number, call_sid=sid
        )
        if answer.status == 200 and "<Conference" in answer.body:
            step = "stored"
            alert_id = _wait_for(
                platform, lambda: _stored(platform, sid), start, deadline_s, poll_s
            )
        if alert_id is not None:
            step = "published"
            if _wait_for(
                platform, lambda: _published(platform, alert_id), start, deadline_s, poll_s
            ):
                step = "acknowledged"
                _acknowledge(platform, alert_id)
                hangup = carrier.call_status(sid, "completed", duration=1)
                if hangup.status == 200 and time.monotonic() - start <= deadline_s:
                    return CanaryResult(True, "done", time.monotonic() - start, alert_id)
    except OSError:
        pass  # the platform did not answer: that is what the alarm is for
    elapsed = time.monotonic() - start
    with write_transaction(platform.sessions, label="canary") as session:
        alerts.raise_supervisor_alarm(
            session,
            "canary_failed",
            {"step": step, "elapsed_ms": round(elapsed * 1000), "alert_id": alert_id},
            clock=platform.clock,
        )
    return CanaryResult(False, step, elapsed, alert_id)


def _wait_for(
    platform: Platform, check: object, start: float, deadline_s: float, poll_s: float
) -> int | None:
    assert callable(check)
    while time.monotonic() - start <= deadline_s:
        found = check()
        if found:
            return int(found)
        time.sleep(poll_s)
    return None


def _stored(platform: Platform, sid: str) -> int | None:
    with platform.sessions() as session:
        alert = alerts.find_by_call_sid(session, sid)
        return alert.id if alert is not None and alert.is_canary else None


def _published(platform: Platform, alert_id: int) -> int | None:
    # The outbox row is what the consoles are pushed (E-02). Once the console publisher
    # exists, also require ConsoleEvent.published_at here.
    with platform.sessions() as session:
        rows = session.scalars(
            select(ConsoleEvent)
            .where(ConsoleEvent.kind == events.ALERT_OPENED)
            .order_by(ConsoleEvent.seq.desc())
            .limit(200)
        )
        return next((e.seq for e in rows if e.payload.get("alert_id") == alert_id), None)


def _acknowledge(platform: Platform, alert_id: int) -> None:
    with write_transaction(platform.sessions, label="canary") as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        alerts.close_canary(session, alert, clock=platform.clock)
