"""The test-call chase (R-30, R-34): 15 local days in Nouméa and Cayenne, guided steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from tests.integration.jobs.conftest import RunJob
from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models import Alert, BeneficiaryFile, Juridiction, Task, TaskStep, Territory
from tgd.db.writes import write_transaction
from tgd.domain.alerts import AlertNature, AlertState
from tgd.domain.errors import ValidationError
from tgd.domain.lifecycle import FileState
from tgd.domain.schedules import ChaseOutcome, ChaseStep
from tgd.services import tests_chase

NOUMEA, CAYENNE = ZoneInfo("Pacific/Noumea"), ZoneInfo("America/Cayenne")


def _file_in(platform: Platform, territory_code: str, zone: ZoneInfo, last: datetime) -> int:
    """Move a demo territory to ``zone``; every active file tested at ``last`` (others: later)."""
    with write_transaction(platform.sessions) as s:
        s.execute(
            update(Territory).where(Territory.code == territory_code).values(timezone=zone.key)
        )
        s.execute(
            update(BeneficiaryFile)
            .where(BeneficiaryFile.state == FileState.ATTRIBUE)
            .values(last_test_call_at=last + timedelta(days=10))
        )
        file = s.scalars(
            select(BeneficiaryFile)
            .join(Juridiction, Juridiction.id == BeneficiaryFile.juridiction_id)
            .join(Territory, Territory.id == Juridiction.territory_id)
            .where(Territory.code == territory_code, BeneficiaryFile.state == FileState.ATTRIBUE)
        ).one()
        file.last_test_call_at = last
        return file.id


def _open_tasks(platform: Platform) -> list[Task]:
    with platform.sessions() as s:
        return list(s.scalars(select(Task).where(Task.kind == "test_chase", Task.status == "open")))


@pytest.mark.parametrize(
    ("code", "zone"), [("975", NOUMEA), ("974", CAYENNE)], ids=["noumea", "cayenne"]
)
def test_chase_opens_after_fifteen_local_days_not_a_minute_before(
    demo: None, platform: Platform, clock: FrozenClock, run: RunJob, code: str, zone: ZoneInfo
) -> None:
    file_id = _file_in(platform, code, zone, datetime(2026, 12, 1, 10, 0, tzinfo=zone))
    clock.set(datetime(2026, 12, 16, 23, 59, tzinfo=zone))
    run("test_chase")
    assert _open_tasks(platform) == []
    clock.set(datetime(2026, 12, 17, 0, 1, tzinfo=zone))
    job = run("test_chase")
    assert job is not None and job.details["opened"] == 1
    (task,) = _open_tasks(platform)
    assert task.file_id == file_id
    # Found at 00:01 local: the call is proposed at 09:00 local, not in the night.
    assert task.due_at == datetime(2026, 12, 17, 9, 0, tzinfo=zone).astimezone(UTC)
    run("test_chase")  # idempotent
    assert len(_open_tasks(platform)) == 1


def test_a_test_call_received_meanwhile_closes_the_chase(
    demo: None, platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    file_id = _file_in(platform, "975", NOUMEA, datetime(2026, 12, 1, 10, 0, tzinfo=NOUMEA))
    clock.set(datetime(2026, 12, 18, 10, 0, tzinfo=NOUMEA))
    run("test_chase")
    (task,) = _open_tasks(platform)
    with write_transaction(
        platform.sessions
    ) as s:  # the gateway records a test call as a test alert
        s.add(
            Alert(
                call_sid="CAtest-chase",
                file_id=file_id,
                conference_name="tgd-chase-1",
                state=AlertState.CLOSED,
                nature=AlertNature.ESSAI,
                is_test=True,
                ringing_at=clock.now(),
            )
        )
    clock.advance(minutes=15)
    job = run("test_chase")
    assert job is not None and job.details["closed"] == 1
    assert _open_tasks(platform) == []
    with platform.sessions() as s:
        steps = s.scalars(select(TaskStep).where(TaskStep.task_id == task.id)).all()
        assert [(x.step, x.outcome) for x in steps] == [("essai_recu", "fait")]


def test_guided_steps_are_recorded_with_outcome_and_time(
    demo: None, platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    _file_in(platform, "975", NOUMEA, datetime(2026, 12, 1, 10, 0, tzinfo=NOUMEA))
    clock.set(datetime(2026, 12, 17, 23, 0, tzinfo=NOUMEA))  # late evening in Nouméa
    run("test_chase")
    (task,) = _open_tasks(platform)
    with write_transaction(platform.sessions) as s:
        task = s.get(Task, task.id)  # type: ignore[assignment]
        assert task is not None
        with pytest.raises(ValidationError, match="appeler quand même"):
            tests_chase.record_step(
                s,
                task,
                step=ChaseStep.APPEL_TERMINAL,
                outcome=ChaseOutcome.INJOIGNABLE,
                user_id=1,
                clock=clock,
            )
        tests_chase.record_step(
            s,
            task,
            step=ChaseStep.APPEL_TERMINAL,
            outcome=ChaseOutcome.INJOIGNABLE,
            user_id=1,
            override_hours=True,
            clock=clock,
        )
        clock.advance(minutes=5)
        tests_chase.record_step(
            s,
            task,
            step=ChaseStep.APPEL_AUTRES_NUMEROS,
            outcome=ChaseOutcome.INJOIGNABLE,
            user_id=1,
            override_hours=True,
            clock=clock,
        )
        clock.advance(minutes=1)
        tests_chase.record_step(
            s,
            task,
            step=ChaseStep.CONTACT_ASSOCIATION,
            outcome=ChaseOutcome.FAIT,
            user_id=1,
            clock=clock,
        )
        assert task.status == "done" and task.closed_at == clock.now()
        view = tests_chase.task_view(s, task, clock=clock)
        assert [(x.step, x.outcome) for x in view.steps] == [
            ("appel_terminal", "injoignable"),
            ("appel_autres_numeros", "injoignable"),
            ("contact_association", "fait"),
        ]
        assert view.steps[0].at < view.steps[1].at < view.steps[2].at
        # The committee tables see the late test, by reference only.
        late = tests_chase.late_tests(s, clock.now() - timedelta(days=2), clock.now())
        assert [r["reference"] for r in late] == ["M 975 97502 01 1"]
