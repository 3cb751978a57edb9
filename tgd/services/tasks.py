"""Operator tasks with guided steps: what the test-call chases (R-30) and line health share.

Both kinds are ``Task`` rows of their own ``kind`` whose steps are ``TaskStep`` rows. Each
service keeps its rules (which step comes next, what a step may record); the reads of the
tasks and their steps, the call-hours check and the recording of a step live here once.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.operations import Task, TaskStep
from tgd.domain.errors import N_, NotFound, ValidationError
from tgd.ports import Clock
from tgd.services import audit

OPEN, DONE = "open", "done"


def get_task(session: Session, task_id: int, *, kind: str) -> Task:
    """Return a task of this kind, or raise ``NotFound``."""
    task = session.get(Task, task_id)
    if task is None or task.kind != kind:
        raise NotFound(N_("Cette tâche n'existe pas."))
    return task


def list_tasks(session: Session, *, kind: str, include_done: bool, limit: int) -> list[Task]:
    """Return the tasks of this kind, open first by due time."""
    query = select(Task).where(Task.kind == kind)
    if not include_done:
        query = query.where(Task.status == OPEN)
    return list(
        session.scalars(query.order_by(Task.status.desc(), Task.due_at, Task.id).limit(limit))
    )


def steps_of(session: Session, task: Task) -> list[TaskStep]:
    """Return the task's recorded steps in order."""
    return list(
        session.scalars(select(TaskStep).where(TaskStep.task_id == task.id).order_by(TaskStep.id))
    )


def check_call_hours(
    step: StrEnum, call_steps: Collection[StrEnum], *, is_call_hour: bool, override_hours: bool
) -> None:
    """Refuse a call step outside the person's reasonable local hours, unless overridden."""
    if step in call_steps and not is_call_hour and not override_hours:
        # calls at reasonable local hours unless the operator decides otherwise.
        raise ValidationError(
            N_(
                "Il est tard ou tôt chez la personne : cochez « appeler quand même » "
                "pour enregistrer cet appel."
            )
        )


def add_step(
    session: Session,
    task: Task,
    *,
    step: StrEnum,
    outcome: StrEnum,
    user_id: int,
    override_hours: bool,
    last: bool,
    clock: Clock,
) -> TaskStep:
    """Record one step with its outcome and time (audited); ``last``: it closes the task.

    The first operator to record a step takes the task.
    """
    now = clock.now()
    row = TaskStep(task_id=task.id, step=step, outcome=outcome, user_id=user_id, at=now)
    session.add(row)
    if task.assignee_id is None:
        task.assignee_id = user_id
    if last:
        task.status, task.closed_at = DONE, now
    session.flush()
    audit.record(
        session,
        actor=f"user:{user_id}",
        action="task.step",
        object_type="task",
        object_id=task.id,
        details={"step": step.value, "outcome": outcome.value, "override": override_hours},
        clock=clock,
    )
    return row
