"""Termination of a measure (R-15, R-16, R-17): confirmation task, closure, export, quarantine.

A termination navette opens a ``termination_check`` task: the operator phones
the magistrate, who confirms that the measure ends and that the terminal was
recovered; each answer is a ``TaskStep`` (who asked, when, outcome code). Only
when both are confirmed is the file closed: exported (ODT and PDF) to the
parquet's portal, its destruction scheduled at closure + 4 months on the
territory's calendar (R-16), its line record closed and a new record Y+1
created "en attente d'affectation" that cannot be assigned before the 7-day
quarantine ends (R-17). The closure counts from the later of the confirmation
and the navette's "date de résiliation" (CCP II.2.4), kept on the file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.beneficiaries import BeneficiaryFile, FileExport
from tgd.db.models.lines import LineAssignment, LineStatusChange
from tgd.db.models.navettes import Navette
from tgd.db.models.operations import Task, TaskStep
from tgd.db.models.territories import Juridiction
from tgd.db.models.users import User
from tgd.domain.errors import N_, NOT_FOUND_OR_HIDDEN, Conflict, NotFound
from tgd.domain.lifecycle import FileState, LineStatus, NavetteState, check_file_transition
from tgd.domain.reference import Reference
from tgd.domain.retention import destruction_due_at, effective_closure, reassignable_from
from tgd.ports import Cipher, Clock
from tgd.services import audit, exports, lines, policy
from tgd.settings import RetentionSettings

log = logging.getLogger(__name__)

TASK_KIND = "termination_check"
TASK_DUE = timedelta(hours=24)


@dataclass(frozen=True)
class Closure:
    """What the closure produced."""

    file: BeneficiaryFile
    exports: list[FileExport]
    next_record: LineAssignment


def open_termination(
    session: Session,
    file: BeneficiaryFile,
    *,
    navette: Navette | None,
    user: User | None,
    termination_date: date | None = None,
    clock: Clock,
) -> Task:
    """R-15: the file and its line become "résiliation demandée"; a confirmation task opens."""
    check_file_transition(file.state, FileState.RESILIATION_DEMANDEE)
    record = session.get(LineAssignment, file.assignment_id)
    assert record is not None
    file.state = FileState.RESILIATION_DEMANDEE
    file.termination_requested_at = clock.now()
    file.termination_date = termination_date  # CCP II.2.4: shown, and used at closure
    lines.change_status(
        session,
        record,
        LineStatus.RESILIATION_DEMANDEE,
        user_id=user.id if user else None,
        clock=clock,
    )
    task = Task(
        kind=TASK_KIND,
        file_id=file.id,
        line_id=record.line_id,
        status="open",
        due_at=clock.now() + TASK_DUE,
        created_at=clock.now(),
        dedup_key=f"{TASK_KIND}:{file.id}",
    )
    session.add(task)
    session.flush()
    log.info("file=%s termination requested task=%s", file.id, task.id)
    return task


def task_for(session: Session, file: BeneficiaryFile) -> Task | None:
    """Return the file's termination task, if any."""
    return session.scalar(select(Task).where(Task.file_id == file.id, Task.kind == TASK_KIND))


def get_task(session: Session, user: User, task_id: int) -> tuple[Task, BeneficiaryFile]:
    """Fetch a termination task and its file in the user's scope, or raise ``NotFound``."""
    task = session.get(Task, task_id)
    if task is None or task.kind != TASK_KIND or task.file_id is None:
        raise NotFound(NOT_FOUND_OR_HIDDEN)  # the same answer as a file out of scope
    return task, policy.get_scoped(session, user, BeneficiaryFile, task.file_id)


def open_tasks(session: Session) -> list[Task]:
    """List the termination tasks still open, oldest first."""
    return list(
        session.scalars(
            select(Task).where(Task.kind == TASK_KIND, Task.status == "open").order_by(Task.due_at)
        )
    )


def steps_of(session: Session, task: Task) -> list[TaskStep]:
    """List a task's steps in order."""
    return list(
        session.scalars(select(TaskStep).where(TaskStep.task_id == task.id).order_by(TaskStep.at))
    )


def confirm(
    session: Session,
    task: Task,
    *,
    measure_ended: bool,
    terminal_recovered: bool,
    user: User,
    settings: RetentionSettings,
    cipher: Cipher,
    clock: Clock,
) -> Closure | None:
    """Record the call to the magistrate; close the file when both answers are yes."""
    if task.kind != TASK_KIND or task.status != "open":
        raise Conflict(N_("Cette tâche de résiliation est déjà close."))
    now = clock.now()
    session.add_all(
        [
            TaskStep(
                task_id=task.id,
                step="magistrate_call",
                outcome="confirmed" if measure_ended else "not_confirmed",
                user_id=user.id,
                at=now,
            ),
            TaskStep(
                task_id=task.id,
                step="terminal_recovered",
                outcome="yes" if terminal_recovered else "no",
                user_id=user.id,
                at=now,
            ),
        ]
    )
    session.flush()
    closure = None
    if measure_ended and terminal_recovered:  # closed only once both are confirmed
        assert task.file_id is not None
        file = session.get(BeneficiaryFile, task.file_id)
        assert file is not None
        closure = close_file(
            session, file, user=user, settings=settings, cipher=cipher, clock=clock
        )
        task.status = "done"
        task.closed_at = now
        session.flush()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="file.termination_confirm",
        object_type="file",
        object_id=task.file_id,
        details={"closed": closure is not None},
        clock=clock,
    )
    return closure


def close_file(
    session: Session,
    file: BeneficiaryFile,
    *,
    user: User | None,
    settings: RetentionSettings,
    cipher: Cipher,
    clock: Clock,
) -> Closure:
    """Close the file, export it, schedule its destruction and put the line in quarantine.

    The closure counts from the later of now (the confirmation) and the termination date
    the navette named (CCP II.2.4): quarantine and destruction are never shortened.
    """
    check_file_transition(file.state, FileState.CLOTURE)
    now = clock.now()
    juridiction = session.get(Juridiction, file.juridiction_id)
    assert juridiction is not None
    timezone = juridiction.territory.timezone
    closed_at = effective_closure(now, file.termination_date, timezone)
    file.state = FileState.CLOTURE
    file.closed_at = closed_at
    # four months on the territory's calendar.
    file.destruction_due_at = destruction_due_at(closed_at, timezone, settings.closed_file_months)
    session.flush()
    made = exports.export_file(session, file, cipher=cipher, clock=clock)
    record = session.get(LineAssignment, file.assignment_id)
    assert record is not None
    user_id = user.id if user else None
    lines.change_status(session, record, LineStatus.CLOTURE, user_id=user_id, clock=clock)
    record.is_current = False
    session.flush()
    following = LineAssignment(
        line_id=record.line_id,
        assignment_index=record.assignment_index + 1,
        reference=str(Reference.parse(record.reference).next_assignment()),  # Y+1
        status=LineStatus.EN_ATTENTE,
        status_changed_at=now,
        # no reassignment before the quarantine ends.
        available_from=reassignable_from(closed_at, settings.reassignment_quarantine_days),
        is_current=True,
        created_at=now,
    )
    session.add(following)
    session.flush()
    session.add(
        LineStatusChange(
            assignment_id=following.id,
            from_status=None,
            to_status=LineStatus.EN_ATTENTE,
            at=now,
            user_id=user_id,
        )
    )
    for navette in session.scalars(
        select(Navette).where(Navette.file_id == file.id, Navette.state == NavetteState.RECUE)
    ):
        navette.state = NavetteState.TRAITEE
        navette.processed_at = now
        navette.processed_by_id = user_id
    session.flush()
    log.info("file=%s closed next_record=%s later_date=%s", file.id, following.id, closed_at > now)
    return Closure(file, made, following)
