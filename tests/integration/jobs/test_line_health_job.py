"""Line health (issue 15, item 5): silent lines and suspicious patterns become follow-up tasks
that the job opens once, closes when no longer due, and operators work through."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tests.integration.jobs.conftest import RunJob
from tests.integration.web.conftest import csrf_of
from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models import Alert, CallLeg, Line, LineAssignment, Position, Task, TaskStep
from tgd.db.models.line_health import LineActivity
from tgd.db.writes import write_transaction
from tgd.domain.alerts import AlertNature, AlertState, LegRole, PositionSource
from tgd.domain.lifecycle import LineStatus
from tgd.domain.line_health import HealthReason, HealthStep
from tgd.services import line_health

LINE_1, LINE_2 = "+33612340001", "+33612340002"
pytestmark = pytest.mark.usefixtures("demo")


def _line_id(session: Session, msisdn: str) -> int:
    found = session.scalar(select(Line.id).where(Line.msisdn == msisdn))
    assert found is not None
    return found


def _call(
    platform: Platform,
    msisdn: str,
    *,
    ago: timedelta,
    duration_s: int = 60,
    nature: AlertNature = AlertNature.DANGER_REEL,
) -> None:
    """A closed call from the line, ``ago`` before now, with its caller leg's duration."""
    now = platform.clock.now()
    with write_transaction(platform.sessions) as s:
        sid = "CA" + secrets.token_hex(8)
        alert = Alert(
            call_sid=sid,
            line_id=_line_id(s, msisdn),
            conference_name="tgd-" + secrets.token_hex(12),
            state=AlertState.CLOSED,
            nature=nature,
            ringing_at=now - ago,
            ended_at=now - ago + timedelta(seconds=duration_s),
            closed_at=now - ago + timedelta(seconds=duration_s),
            created_at=now - ago,
        )
        s.add(alert)
        s.flush()
        s.add(
            CallLeg(
                alert_id=alert.id,
                call_sid=sid,
                role=LegRole.CALLER,
                status="completed",
                started_at=now - ago,
                duration_s=duration_s,
            )
        )


def _tasks(platform: Platform, reason: HealthReason, *, status: str | None = "open") -> list[Task]:
    with platform.sessions() as s:
        found = s.scalars(select(Task).where(Task.kind == "line_health").order_by(Task.id)).all()
    return [
        t
        for t in found
        if (parsed := line_health.parse_key(t.dedup_key)) is not None
        and parsed[0] is reason
        and (status is None or t.status == status)
    ]


def _line_of(platform: Platform, task: Task) -> str:
    with platform.sessions() as s:
        line = s.get(Line, task.line_id)
        assert line is not None
        return line.msisdn


def test_line_silent_for_the_threshold_gets_one_task_closed_when_heard_again(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    clock.advance(days=60)  # every demo line has been silent long enough
    run("line_health")
    silent = _tasks(platform, HealthReason.SILENCE)
    assert {_line_of(platform, t) for t in silent} >= {LINE_1, LINE_2}
    run("line_health")
    assert len(_tasks(platform, HealthReason.SILENCE, status=None)) == len(silent)  # once only
    _call(platform, LINE_1, ago=timedelta(hours=1))
    run("line_health")
    still = {_line_of(platform, t) for t in _tasks(platform, HealthReason.SILENCE)}
    assert LINE_1 not in still and LINE_2 in still
    (done,) = [t for t in _tasks(platform, HealthReason.SILENCE, status="done")]
    with platform.sessions() as s:
        steps = s.scalars(select(TaskStep.step).where(TaskStep.task_id == done.id)).all()
    assert steps == [HealthStep.ACTIVITE_REPRISE.value]


def test_line_heard_within_the_threshold_is_not_flagged(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    clock.advance(days=60)
    _call(platform, LINE_2, ago=timedelta(days=20, hours=23))
    run("line_health")
    assert LINE_2 not in {_line_of(platform, t) for t in _tasks(platform, HealthReason.SILENCE)}


def test_a_position_keeps_the_line_alive_even_after_it_is_purged(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    clock.advance(days=60)
    with write_transaction(platform.sessions) as s:
        s.add(
            Position(
                line_id=_line_id(s, LINE_2),
                coords_enc=b"\x00",  # never read here
                source=PositionSource.GNSS,
                channel="https",
                captured_at=clock.now() - timedelta(days=2),
                received_at=clock.now() - timedelta(days=2),
            )
        )
    run("line_health")
    with write_transaction(platform.sessions) as s:
        s.execute(delete(Position))  # R-16b retention purge
        assert s.scalar(select(LineActivity.last_position_at)) is not None
    clock.advance(days=5)
    run("line_health")
    assert LINE_2 not in {_line_of(platform, t) for t in _tasks(platform, HealthReason.SILENCE)}


def test_many_short_calls_open_a_task_that_closes_once_the_window_has_passed(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    for minutes in (300, 200, 120, 60, 10):
        _call(platform, LINE_1, ago=timedelta(minutes=minutes), duration_s=4)
    run("line_health")
    (task,) = _tasks(platform, HealthReason.APPELS_COURTS)
    assert _line_of(platform, task) == LINE_1
    run("line_health")
    assert len(_tasks(platform, HealthReason.APPELS_COURTS, status=None)) == 1
    clock.advance(hours=25)
    run("line_health")
    assert _tasks(platform, HealthReason.APPELS_COURTS) == []
    with platform.sessions() as s:
        steps = s.scalars(select(TaskStep.step).where(TaskStep.task_id == task.id)).all()
    assert steps == [HealthStep.MOTIF_RESORBE.value]


def test_four_short_calls_or_long_ones_are_not_a_pattern(platform: Platform, run: RunJob) -> None:
    for minutes in (300, 200, 120, 60):
        _call(platform, LINE_1, ago=timedelta(minutes=minutes), duration_s=4)
    _call(platform, LINE_1, ago=timedelta(minutes=5), duration_s=90)
    run("line_health")
    assert _tasks(platform, HealthReason.APPELS_COURTS) == []


def test_repeated_accidental_alerts_after_a_follow_up_need_new_ones(
    platform: Platform, clock: FrozenClock, run: RunJob, login: Callable[[str], FlaskClient]
) -> None:
    for days in (5, 3, 1):
        _call(platform, LINE_2, ago=timedelta(days=days), nature=AlertNature.ACCIDENTEL)
    run("line_health")
    (task,) = _tasks(platform, HealthReason.ALERTES_ACCIDENTELLES)
    operator = login("operateur")
    listing = operator.get("/taches").get_data(as_text=True)
    assert "Santé des lignes" in listing and "M 75 75056 02 1" in listing
    url = f"/taches/sante/{task.id}"
    for step, outcome in (("appel_terminal", "joint"), ("conclusion", "usage_rappele")):
        token = csrf_of(operator.get(url).get_data(as_text=True))
        operator.post(
            f"{url}/etape",
            data={"csrf_token": token, "step": step, "outcome": outcome, "override": "y"},
        )
    assert _tasks(platform, HealthReason.ALERTES_ACCIDENTELLES) == []  # done by the operator
    clock.advance(minutes=15)
    run("line_health")
    assert _tasks(platform, HealthReason.ALERTES_ACCIDENTELLES) == []  # not flagged again at once
    clock.advance(hours=2)
    for minutes in (30, 20, 10):  # three more, after the follow-up
        _call(platform, LINE_2, ago=timedelta(minutes=minutes), nature=AlertNature.ACCIDENTEL)
    run("line_health")
    assert len(_tasks(platform, HealthReason.ALERTES_ACCIDENTELLES)) == 1


def test_steps_out_of_order_are_refused(
    platform: Platform, run: RunJob, login: Callable[[str], FlaskClient]
) -> None:
    for days in (5, 3, 1):
        _call(platform, LINE_2, ago=timedelta(days=days), nature=AlertNature.ACCIDENTEL)
    run("line_health")
    (task,) = _tasks(platform, HealthReason.ALERTES_ACCIDENTELLES)
    operator = login("operateur")
    url = f"/taches/sante/{task.id}"
    token = csrf_of(operator.get(url).get_data(as_text=True))
    operator.post(
        f"{url}/etape", data={"csrf_token": token, "step": "conclusion", "outcome": "ras"}
    )
    with platform.sessions() as s:
        assert s.scalar(select(TaskStep.id).where(TaskStep.task_id == task.id)) is None


def test_tasks_close_when_the_line_leaves_service(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    clock.advance(days=60)
    run("line_health")
    assert LINE_1 in {_line_of(platform, t) for t in _tasks(platform, HealthReason.SILENCE)}
    with write_transaction(platform.sessions) as s:
        record = s.scalar(
            select(LineAssignment).where(
                LineAssignment.line_id == _line_id(s, LINE_1), LineAssignment.is_current.is_(True)
            )
        )
        assert record is not None
        record.status = LineStatus.RESILIATION_DEMANDEE
    run("line_health")
    assert LINE_1 not in {_line_of(platform, t) for t in _tasks(platform, HealthReason.SILENCE)}


def test_job_is_listed_with_its_rule(run: RunJob) -> None:
    from tgd.jobs.registry import JOBS

    assert JOBS["line_health"].rule
    done = run("line_health")
    assert done is not None and done.outcome == "ok" and "opened" in done.details
