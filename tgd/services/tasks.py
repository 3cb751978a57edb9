"""Operator tasks with guided steps: what the test-call chases (R-30) and line health share.

Both kinds are ``Task`` rows of their own ``kind`` whose steps are ``TaskStep`` rows. Each
service keeps its rules (which step comes next, what a step may record: its ``Guide``); the
reads of the tasks and their steps and the recording of a step live here once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.operations import Task, TaskStep
from tgd.domain.errors import N_, NotFound, ValidationError
from tgd.ports import Clock
from tgd.services import audit

OPEN, DONE = "open", "done"

StepT = TypeVar("StepT", bound=StrEnum)  # a kind's steps
OutcomeT = TypeVar("OutcomeT", bound=StrEnum)  # and their outcomes


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


History = Sequence[tuple[str, str]]  # the (step, outcome) pairs recorded so far


@dataclass(frozen=True)
class Guide(Generic[StepT, OutcomeT]):
    """A kind's guided steps: which are calls to the person, the check of a step, the next one."""

    call_steps: Collection[StepT]
    check: Callable[[History, StepT, OutcomeT], None]  # raises the domain's refusal
    next_step: Callable[[History], StepT | None]  # None: the task is finished


class GuidedView(Protocol):
    """What a kind's view of a task gives for recording a step."""

    @property
    def task(self) -> Task: ...

    @property
    def steps(self) -> list[TaskStep]: ...

    @property
    def is_call_hour(self) -> bool: ...


def record_step(
    session: Session,
    view: GuidedView,
    guide: Guide[StepT, OutcomeT],
    step: StepT,
    outcome: OutcomeT,
    *,
    user_id: int,
    override: bool,
    clock: Clock,
) -> TaskStep:
    """Record one guided step with its outcome and time (audited); close the task after its last.

    The first operator to record a step takes the task.
    """
    task = view.task
    history = [(s.step, s.outcome) for s in view.steps]
    guide.check(history, step, outcome)
    if step in guide.call_steps and not view.is_call_hour and not override:
        # calls at reasonable local hours unless the operator decides otherwise.
        raise ValidationError(
            N_(
                "Il est tard ou tôt chez la personne : cochez « appeler quand même » "
                "pour enregistrer cet appel."
            )
        )
    now = clock.now()
    row = TaskStep(task_id=task.id, step=step, outcome=outcome, user_id=user_id, at=now)
    session.add(row)
    if task.assignee_id is None:
        task.assignee_id = user_id
    if guide.next_step([*history, (step, outcome)]) is None:
        task.status, task.closed_at = DONE, now
    session.flush()
    audit.record(
        session,
        actor=f"user:{user_id}",
        action="task.step",
        object_type="task",
        object_id=task.id,
        details={"step": step.value, "outcome": outcome.value, "override": override},
        clock=clock,
    )
    return row
