"""Test-call chase (R-30): follow-up tasks for lines without a successful test for 15 days.

The chase job (``open_due_chases``) is a catch-up query: every active file
whose last successful test is overdue *now*, on its territory's calendar
(R-34), gets a ``Task`` of kind ``test_chase``. A chase is due every period
without a successful test (CCP Annexe 2 II.2.2): at +16, +31, +46… days after
the last test, so a person reminded once who still never tests is chased
again; ``dedup_key`` names the file, the test it follows and the period, so
running the job twice creates nothing the second time, and a file never has
two chases open at once. Open tasks whose file was tested since, or is no
longer active, are closed by the same job with a step saying why. A step left
untreated longer than the configured delay (counted from the next reasonable
call hour for calls) is escalated to the supervisors (``escalate_untreated``):
the task is flagged, the consoles get a ``task_escalated`` event. Operators record
the guided steps (``record_step``): call the terminal, remind the person of
the twice-monthly tests, else call the other numbers, else contact the
association référente at once; each step is a ``TaskStep`` with its outcome
and time. Calls are proposed at reasonable local hours (the task's
``due_at``); an operator may override. None of this goes to the parquet: the
tasks and their steps stay queryable for the committee tables (late tests).

"Last successful test" is the later of ``BeneficiaryFile.last_test_call_at``
(set by the gateway when a test call arrives) and the latest test alert
(``Alert.is_test``) of the file; a file never tested counts from its
commissioning (R-11 ends with a test call).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.lines import LineAssignment
from tgd.db.models.operations import Task, TaskStep
from tgd.db.models.territories import Juridiction, Territory
from tgd.domain.errors import N_, ValidationError
from tgd.domain.lifecycle import FileState
from tgd.domain.schedules import (
    CALL_STEPS,
    ChaseOutcome,
    ChaseStep,
    chase_due_at,
    check_chase_step,
    is_call_hour,
    next_call_time,
    next_chase_step,
)
from tgd.ports import Clock
from tgd.services import audit, events, tasks
from tgd.services.tasks import DONE, OPEN
from tgd.settings import NATIONAL_TIMEZONE

log = logging.getLogger(__name__)

KIND = "test_chase"
GUIDE = tasks.Guide(CALL_STEPS, check_chase_step, next_chase_step)


MAX_PERIODS = 10_000  # a safety bound: 400 years of 15-day periods


@dataclass(frozen=True)
class ChaseRun:
    """What one run of the chase job did."""

    opened: int
    closed: int
    escalated: int = 0


@dataclass(frozen=True)
class TaskView:
    """A chase task as operators see it (no personal data: reference and times)."""

    task: Task
    reference: str | None
    file_number: str | None
    timezone: str
    last_test_at: datetime | None
    steps: list[TaskStep]
    next_step: ChaseStep | None
    is_call_hour: bool


def last_successful_tests(
    session: Session, file_id: int | None = None
) -> dict[int, datetime | None]:
    """Return, per active file (or for one file), the instant of its last successful test."""
    alerts = select(Alert.file_id, func.max(Alert.ringing_at)).where(
        Alert.is_test.is_(True), Alert.file_id.is_not(None)
    )
    files = select(BeneficiaryFile.id, BeneficiaryFile.last_test_call_at)
    if file_id is None:
        files = files.where(BeneficiaryFile.state == FileState.ATTRIBUE)
    else:
        alerts = alerts.where(Alert.file_id == file_id)
        files = files.where(BeneficiaryFile.id == file_id)
    tested = dict(session.execute(alerts.group_by(Alert.file_id)).all())
    result: dict[int, datetime | None] = {}
    for file_id_, column in session.execute(files).all():
        candidates = [t for t in (column, tested.get(file_id_)) if t is not None]
        result[file_id_] = max(candidates) if candidates else None
    return result


def _active_files(session: Session) -> list[tuple[BeneficiaryFile, str, int]]:
    rows = session.execute(
        select(BeneficiaryFile, Territory.timezone, LineAssignment.line_id)
        .join(Juridiction, Juridiction.id == BeneficiaryFile.juridiction_id)
        .join(Territory, Territory.id == Juridiction.territory_id)
        .join(LineAssignment, LineAssignment.id == BeneficiaryFile.assignment_id)
        .where(BeneficiaryFile.state == FileState.ATTRIBUE)
        .order_by(BeneficiaryFile.id)
    ).all()
    return list(rows)


def _last_test(file: BeneficiaryFile, last_tests: dict[int, datetime | None]) -> datetime:
    # Never tested: the clock runs from the commissioning (R-11 ends with a test call).
    return last_tests.get(file.id) or file.commissioned_at or file.created_at


def _episode(file_id: int, last: datetime) -> str:
    # The chases that follow one last test of one file (the key of the first one).
    return f"{KIND}:{file_id}:{last.astimezone(UTC).isoformat()}"


def _key(episode: str, period: int) -> str:
    # Period 1 keeps the episode's own key (tasks opened before recurring chases existed).
    return episode if period == 1 else f"{episode}#{period}"


def _in_episode(task: Task, episode: str | None) -> bool:
    key = task.dedup_key or ""
    return episode is not None and (key == episode or key.startswith(episode + "#"))


def due_period(last: datetime, now: datetime, timezone: str, overdue_days: int) -> int:
    """R-30: how many whole chase periods have fallen due since the last test (0: none yet).

    Period n falls due at 00:00 local on day D + n × ``overdue_days`` + 1 after a test on
    day D: +16, +31, +46… days for the 15-day rule.
    """
    period = 0
    while period < MAX_PERIODS and now >= chase_due_at(last, timezone, (period + 1) * overdue_days):
        period += 1
    return period


def open_due_chases(session: Session, *, overdue_days: int, clock: Clock) -> ChaseRun:
    """Open a chase task for every file overdue now; close tasks that are no longer needed."""
    now = clock.now()
    last_tests = last_successful_tests(session)
    active_files = _active_files(session)
    files_by_id = {file.id: file for file, _, _ in active_files}
    episodes = {
        file_id: _episode(file_id, _last_test(file, last_tests))
        for file_id, file in files_by_id.items()
    }
    closed = 0
    still_open: set[int] = set()
    for task in session.scalars(select(Task).where(Task.kind == KIND, Task.status == OPEN)):
        active = task.file_id in last_tests
        if active and _in_episode(task, episodes.get(task.file_id or 0)):
            still_open.add(task.file_id or 0)
            continue  # still the same episode: no test since
        reason = ChaseStep.ESSAI_RECU if active else ChaseStep.DOSSIER_CLOS
        session.add(TaskStep(task_id=task.id, step=reason, outcome=ChaseOutcome.FAIT, at=now))
        task.status, task.closed_at = DONE, now
        closed += 1
    opened = 0
    for file, timezone, line_id in active_files:
        if file.id in still_open:
            continue  # one chase at a time; an untreated one is escalated instead
        last = _last_test(file, last_tests)
        period = due_period(last, now, timezone, overdue_days)
        if period == 0:
            continue
        due = chase_due_at(last, timezone, period * overdue_days)
        key = _key(episodes[file.id], period)
        if session.scalar(select(Task.id).where(Task.dedup_key == key)) is not None:
            continue
        task = Task(
            kind=KIND,
            file_id=file.id,
            line_id=line_id,
            status=OPEN,
            # proposed at a reasonable local hour, from the day it fell due.
            due_at=next_call_time(max(due, now), timezone),
            created_at=now,
            dedup_key=key,
        )
        session.add(task)
        session.flush()
        audit.record(
            session,
            actor="system:scheduler",
            action="task.open",
            object_type="task",
            object_id=task.id,
            details={
                "kind": KIND,
                "file": file.id,
                "overdue_since": due.isoformat(),
                "period": period,
            },
            clock=clock,
        )
        opened += 1
    session.flush()
    if opened or closed:
        log.info("test chase: %s task(s) opened, %s closed", opened, closed)
    return ChaseRun(opened=opened, closed=closed)


def step_started_at(view: TaskView) -> datetime:
    """When the task's next step became due: the last step's time, or the task's due time.

    A call to the person is only expected from the next reasonable local hour (R-30).
    """
    task = view.task
    started = view.steps[-1].at if view.steps else (task.due_at or task.created_at)
    if view.next_step in CALL_STEPS:
        started = next_call_time(started, view.timezone)
    return started


def escalate_untreated(session: Session, *, after_hours: int, clock: Clock) -> int:
    """R-30: flag to the supervisors every open chase whose next step waited too long."""
    now = clock.now()
    delay = timedelta(hours=after_hours)
    escalated = 0
    for task in session.scalars(
        select(Task).where(Task.kind == KIND, Task.status == OPEN).order_by(Task.id)
    ):
        view = task_view(session, task, clock=None)
        if view.next_step is None:
            continue
        started = step_started_at(view)
        if now < started + delay:
            continue
        if task.escalated_at is not None and task.escalated_at > started:
            continue  # this step was escalated already
        task.escalated_at = now
        session.flush()
        events.add_event(
            session,
            events.TASK_ESCALATED,
            {"task_id": task.id, "kind": KIND, "step": view.next_step.value},
            territory_id=None,
            clock=clock,
        )
        audit.record(
            session,
            actor="system:scheduler",
            action="task.escalate",
            object_type="task",
            object_id=task.id,
            details={"step": view.next_step.value, "waiting_since": started.isoformat()},
            clock=clock,
        )
        escalated += 1
    if escalated:
        log.warning("test chase: %s untreated step(s) escalated to the supervisors", escalated)
    return escalated


def escalated_tasks(session: Session) -> list[TaskView]:
    """Open chases whose current step went to the supervisors, oldest first."""
    found = session.scalars(
        select(Task)
        .where(Task.kind == KIND, Task.status == OPEN, Task.escalated_at.is_not(None))
        .order_by(Task.escalated_at, Task.id)
    )
    return [task_view(session, t, clock=None) for t in found]


def list_tasks(session: Session, *, include_done: bool = False, limit: int = 200) -> list[TaskView]:
    """Return chase tasks, open first by due time, with what operators need to act."""
    found = tasks.list_tasks(session, kind=KIND, include_done=include_done, limit=limit)
    return [task_view(session, t, clock=None) for t in found]


def get_task(session: Session, task_id: int) -> Task:
    """Return a chase task, or raise ``NotFound``."""
    return tasks.get_task(session, task_id, kind=KIND)


def task_view(session: Session, task: Task, *, clock: Clock | None) -> TaskView:
    """Describe a task: reference, time zone, last test, steps done and the next one."""
    row = None
    if task.file_id is not None:
        row = session.execute(
            select(LineAssignment.reference, BeneficiaryFile.number, Territory.timezone)
            .join(BeneficiaryFile, BeneficiaryFile.assignment_id == LineAssignment.id)
            .join(Juridiction, Juridiction.id == BeneficiaryFile.juridiction_id)
            .join(Territory, Territory.id == Juridiction.territory_id)
            .where(BeneficiaryFile.id == task.file_id)
        ).first()
    reference, number, timezone = row if row is not None else (None, None, NATIONAL_TIMEZONE)
    steps = tasks.steps_of(session, task)
    history = [(s.step, s.outcome) for s in steps]
    last = last_successful_tests(session, task.file_id).get(task.file_id) if task.file_id else None
    return TaskView(
        task=task,
        reference=reference,
        file_number=number,
        timezone=timezone,
        last_test_at=last,
        steps=steps,
        next_step=next_chase_step(history) if task.status == OPEN else None,
        is_call_hour=is_call_hour(clock.now(), timezone) if clock else True,
    )


def record_step(
    session: Session,
    task: Task,
    *,
    step: ChaseStep,
    outcome: ChaseOutcome,
    user_id: int,
    override_hours: bool = False,
    clock: Clock,
) -> TaskStep:
    """Record one guided step with its outcome and time; close the task after its last step."""
    if task.status != OPEN:
        raise ValidationError(N_("Cette relance est terminée."))
    view = task_view(session, task, clock=clock)
    return tasks.record_step(
        session, view, GUIDE, step, outcome, user_id=user_id, override=override_hours, clock=clock
    )


def late_tests(session: Session, start: datetime, end: datetime) -> list[dict[str, object]]:
    """For the committee tables: chase tasks opened in [start, end), by reference (anonymous)."""
    rows = session.execute(
        select(Task.id, Task.created_at, Task.closed_at, Task.status, LineAssignment.reference)
        .join(BeneficiaryFile, BeneficiaryFile.id == Task.file_id, isouter=True)
        .join(LineAssignment, LineAssignment.id == BeneficiaryFile.assignment_id, isouter=True)
        .where(Task.kind == KIND, Task.created_at >= start, Task.created_at < end)
        .order_by(Task.created_at)
    ).all()
    return [
        {
            "task_id": r.id,
            "reference": r.reference,
            "opened_at": r.created_at,
            "closed_at": r.closed_at,
            "status": r.status,
        }
        for r in rows
    ]
