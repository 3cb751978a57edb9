"""The test-call chase (R-30, R-34): 15 local days in Nouméa and Cayenne, guided steps."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select

from tests import builders
from tests.integration.jobs.conftest import RunJob
from tests.integration.web.conftest import log_in
from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models import Alert, Task, TaskStep
from tgd.db.writes import write_transaction
from tgd.domain.alerts import AlertNature, AlertState
from tgd.domain.errors import ValidationError
from tgd.domain.roles import Role
from tgd.domain.schedules import ChaseOutcome, ChaseStep
from tgd.services import tests_chase

NOUMEA, CAYENNE = ZoneInfo("Pacific/Noumea"), ZoneInfo("America/Cayenne")
# Territory -> the court and number of its assigned line 01 (as in the demo).
LINES_01 = {"975": ("97502", "+508551001"), "974": ("97411", "+262692340001")}


def _file_in(platform: Platform, territory_code: str, zone: ZoneInfo, last: datetime) -> int:
    """Build the file of the territory's line 01, tested at ``last``, its territory moved to
    ``zone``; and a Paris file tested later, which no chase concerns."""
    insee, msisdn = LINES_01[territory_code]
    clock, cipher = platform.clock, platform.cipher
    with write_transaction(platform.sessions) as s:
        paris = builders.juridiction(s, insee="75056", clock=clock)
        other = builders.assigned_file(s, juridiction=paris, cipher=cipher, clock=clock)
        other.last_test_call_at = last + timedelta(days=10)
        court = builders.juridiction(s, insee=insee, clock=clock)
        court.territory.timezone = zone.key
        file = builders.assigned_file(
            s, juridiction=court, msisdn=msisdn, cipher=cipher, clock=clock
        )
        file.last_test_call_at = last
        return file.id


def _account(platform: Platform, username: str, role: Role) -> int:
    """Build an enrolled console account; return its id."""
    with write_transaction(platform.sessions) as s:
        return builders.user(
            s,
            username=username,
            role=role,
            enrolled=True,
            cipher=platform.cipher,
            hasher=platform.hasher,
            clock=platform.clock,
        ).id


def _open_tasks(platform: Platform) -> list[Task]:
    with platform.sessions() as s:
        return list(s.scalars(select(Task).where(Task.kind == "test_chase", Task.status == "open")))


@pytest.mark.parametrize(
    ("code", "zone"), [("975", NOUMEA), ("974", CAYENNE)], ids=["noumea", "cayenne"]
)
def test_chase_opens_after_fifteen_local_days_not_a_minute_before(
    platform: Platform, clock: FrozenClock, run: RunJob, code: str, zone: ZoneInfo
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
    platform: Platform, clock: FrozenClock, run: RunJob
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
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    operator_id = _account(platform, "operateur", Role.OPERATOR)
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
                user_id=operator_id,
                clock=clock,
            )
        tests_chase.record_step(
            s,
            task,
            step=ChaseStep.APPEL_TERMINAL,
            outcome=ChaseOutcome.INJOIGNABLE,
            user_id=operator_id,
            override_hours=True,
            clock=clock,
        )
        clock.advance(minutes=5)
        tests_chase.record_step(
            s,
            task,
            step=ChaseStep.APPEL_AUTRES_NUMEROS,
            outcome=ChaseOutcome.INJOIGNABLE,
            user_id=operator_id,
            override_hours=True,
            clock=clock,
        )
        clock.advance(minutes=1)
        tests_chase.record_step(
            s,
            task,
            step=ChaseStep.CONTACT_ASSOCIATION,
            outcome=ChaseOutcome.FAIT,
            user_id=operator_id,
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


def _chases_of(platform: Platform, file_id: int) -> list[Task]:
    with platform.sessions() as s:
        return list(
            s.scalars(
                select(Task)
                .where(Task.kind == "test_chase", Task.file_id == file_id)
                .order_by(Task.id)
            )
        )


def _remind(platform: Platform, clock: FrozenClock, task_id: int, user_id: int) -> None:
    """The operator reaches the person and reminds her of the tests: the chase is finished."""
    with write_transaction(platform.sessions) as s:
        task = s.get(Task, task_id)
        assert task is not None
        for step, outcome in (
            (ChaseStep.APPEL_TERMINAL, ChaseOutcome.JOINT),
            (ChaseStep.RAPPEL_ESSAIS, ChaseOutcome.FAIT),
        ):
            tests_chase.record_step(
                s,
                task,
                step=step,
                outcome=outcome,
                user_id=user_id,
                override_hours=True,
                clock=clock,
            )
        assert task.status == "done"


def test_a_person_who_still_never_tests_is_chased_again_every_fifteen_days(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    """CCP Annexe 2 II.2.2: a chase is due at +16, +31, +46… days without a test."""
    operator_id = _account(platform, "operateur", Role.OPERATOR)
    last = datetime(2026, 12, 1, 10, 0, tzinfo=NOUMEA)
    file_id = _file_in(platform, "975", NOUMEA, last)
    chased_on = []
    for day in range(16, 95):
        clock.set(datetime(2026, 12, 1, 0, 1, tzinfo=NOUMEA) + timedelta(days=day))
        run("test_chase")
        chases = _chases_of(platform, file_id)
        if len(chases) > len(chased_on):
            chased_on.append(day)
            _remind(platform, clock, chases[-1].id, operator_id)  # finished at once: reminded
    assert chased_on == [16, 31, 46, 61, 76, 91]
    keys = [t.dedup_key for t in _chases_of(platform, file_id)]
    assert len(set(keys)) == 6  # one task per period, never twice


def test_no_second_chase_while_one_is_open_then_the_next_period_opens(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    operator_id = _account(platform, "operateur", Role.OPERATOR)
    file_id = _file_in(platform, "975", NOUMEA, datetime(2026, 12, 1, 10, 0, tzinfo=NOUMEA))
    clock.set(datetime(2026, 12, 17, 0, 1, tzinfo=NOUMEA))
    run("test_chase")
    clock.set(datetime(2027, 1, 2, 10, 0, tzinfo=NOUMEA))  # +32 days, the first still open
    run("test_chase")
    (first,) = _chases_of(platform, file_id)
    _remind(platform, clock, first.id, operator_id)
    run("test_chase")
    first, second = _chases_of(platform, file_id)
    assert second.status == "open" and second.dedup_key == f"{first.dedup_key}#2"


def test_an_untreated_chase_step_escalates_to_the_supervisors_after_the_delay(
    platform: Platform, clock: FrozenClock, run: RunJob, app: Flask
) -> None:
    from tgd.db.models import AuditEntry, ConsoleEvent

    supervisor_id = _account(platform, "superviseur", Role.SUPERVISOR)

    platform.settings = dataclasses.replace(
        platform.settings,
        retention=dataclasses.replace(
            platform.settings.retention, test_call_chase_escalation_hours=2
        ),
    )
    file_id = _file_in(platform, "975", NOUMEA, datetime(2026, 12, 1, 10, 0, tzinfo=NOUMEA))
    clock.set(datetime(2026, 12, 17, 0, 1, tzinfo=NOUMEA))  # opened at night: due at 09:00
    run("test_chase")
    (task,) = _chases_of(platform, file_id)
    clock.set(datetime(2026, 12, 17, 10, 59, tzinfo=NOUMEA))  # 09:00 + 2 h not reached
    assert run("test_chase").details["escalated"] == 0  # type: ignore[union-attr]
    clock.set(datetime(2026, 12, 17, 11, 1, tzinfo=NOUMEA))
    assert run("test_chase").details["escalated"] == 1  # type: ignore[union-attr]
    assert run("test_chase").details["escalated"] == 0  # type: ignore[union-attr]  # once
    with platform.sessions() as s:
        task = s.get(Task, task.id)  # type: ignore[assignment]
        assert task is not None and task.escalated_at == clock.now()
        event = s.scalars(select(ConsoleEvent).where(ConsoleEvent.kind == "task_escalated")).one()
        assert event.payload == {"task_id": task.id, "kind": "test_chase", "step": "appel_terminal"}
        assert "task.escalate" in s.scalars(select(AuditEntry.action)).all()
    # Seen by the supervisors on their pages.
    supervisor = log_in(app, platform, "superviseur", builders.PASSWORD, builders.TOTP_SECRET)
    board = supervisor.get("/console/supervision").get_data(as_text=True)
    assert 'id="relances-en-retard"' in board and f"/taches/{task.id}" in board
    assert "superviseurs prévenus" in supervisor.get("/taches").get_data(as_text=True)
    # The next step gets its own delay, and escalates again when left untreated.
    with write_transaction(platform.sessions) as s:
        task = s.get(Task, task.id)  # type: ignore[assignment]
        assert task is not None
        tests_chase.record_step(
            s,
            task,
            step=ChaseStep.APPEL_TERMINAL,
            outcome=ChaseOutcome.INJOIGNABLE,
            user_id=supervisor_id,
            clock=clock,
        )
    clock.advance(hours=1, minutes=59)
    assert run("test_chase").details["escalated"] == 0  # type: ignore[union-attr]
    clock.advance(minutes=2)
    assert run("test_chase").details["escalated"] == 1  # type: ignore[union-attr]
