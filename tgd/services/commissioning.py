"""Commissioning of a new file (R-11): three steps, then "attribué définitivement".

The operator calls the person to (1) test the terminal and (2) check the
assignment, and records each outcome; step (3), the person's own test call,
is satisfied only by a real event: a test call recorded by the gateway
(``Alert.is_test`` on the file, after the file was created). The gateway may
call ``record_test_call`` itself; the checklist also derives step 3 from such
an alert, so either way gives the same answer. When the three steps have
succeeded the file becomes "attribué définitivement" and the line "affecté".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert
from tgd.db.models.beneficiaries import BeneficiaryFile, CommissioningRecord
from tgd.db.models.lines import LineAssignment
from tgd.db.models.users import User
from tgd.domain.errors import N_, Conflict
from tgd.domain.lifecycle import CommissioningStep, FileState, LineStatus, check_file_transition
from tgd.domain.navettes import check_commissioning_complete, missing_steps
from tgd.ports import Clock
from tgd.services import audit, lines

MANUAL_STEPS = frozenset({CommissioningStep.TEST_TERMINAL, CommissioningStep.CHECK_ASSIGNMENT})


@dataclass(frozen=True)
class StepStatus:
    """Where one step stands: last outcome, when, by whom, and the test call for step 3."""

    step: CommissioningStep
    succeeded: bool | None
    at: datetime | None
    author_id: int | None
    alert_id: int | None


def _test_call(session: Session, file: BeneficiaryFile) -> Alert | None:
    """The first test call on the file's line after the file was created (R-11 step 3)."""
    return session.scalar(
        select(Alert)
        .where(
            Alert.is_test.is_(True),
            Alert.file_id == file.id,
            Alert.ringing_at >= file.created_at,
        )
        .order_by(Alert.ringing_at)
        .limit(1)
    )


def files_in_creation(session: Session) -> list[BeneficiaryFile]:
    """List the files under commissioning (R-11), oldest first."""
    return list(
        session.scalars(
            select(BeneficiaryFile)
            .where(BeneficiaryFile.state == FileState.EN_CREATION)
            .order_by(BeneficiaryFile.id)
        )
    )


def checklist(session: Session, file: BeneficiaryFile) -> list[StepStatus]:
    """Return the three steps with their latest outcome."""
    records = session.scalars(
        select(CommissioningRecord)
        .where(CommissioningRecord.file_id == file.id)
        .order_by(CommissioningRecord.at, CommissioningRecord.id)
    ).all()
    latest: dict[CommissioningStep, CommissioningRecord] = {r.step: r for r in records}
    result = []
    for step in CommissioningStep:
        record = latest.get(step)
        if record is None and step is CommissioningStep.TEST_CALL_BY_PERSON:
            alert = _test_call(session, file)
            if alert is not None:
                result.append(StepStatus(step, True, alert.ringing_at, None, alert.id))
                continue
        result.append(
            StepStatus(
                step,
                record.succeeded if record else None,
                record.at if record else None,
                record.author_id if record else None,
                record.alert_id if record else None,
            )
        )
    return result


def steps_done(session: Session, file: BeneficiaryFile) -> set[CommissioningStep]:
    """Return the steps whose latest outcome is a success."""
    return {s.step for s in checklist(session, file) if s.succeeded}


def record_step(
    session: Session,
    file: BeneficiaryFile,
    step: CommissioningStep,
    *,
    succeeded: bool,
    user: User,
    clock: Clock,
) -> CommissioningRecord:
    """Record the outcome of step 1 or 2 (step 3 comes from the person's test call only)."""
    if file.state is not FileState.EN_CREATION:
        raise Conflict(N_("Cette fiche n'est pas en cours de mise en service."))
    if step not in MANUAL_STEPS:
        raise Conflict(
            N_("L'appel d'essai de la personne est validé par son appel réel, pas à la main.")
        )
    record = CommissioningRecord(
        file_id=file.id, step=step, succeeded=succeeded, author_id=user.id, at=clock.now()
    )
    session.add(record)
    session.flush()
    complete_if_done(session, file, user=user, clock=clock)
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="file.commissioning",
        object_type="file",
        object_id=file.id,
        details={"step": step.value},
        clock=clock,
    )
    return record


def record_test_call(session: Session, alert: Alert, *, clock: Clock) -> bool:
    """Gateway hook: a test call on a file being commissioned satisfies step 3 (R-11).

    Returns True when the call completed the commissioning. Idempotent.
    """
    if not alert.is_test or alert.file_id is None:
        return False
    file = session.get(BeneficiaryFile, alert.file_id)
    if file is None or file.state is not FileState.EN_CREATION:
        return False
    already = session.scalar(
        select(CommissioningRecord.id).where(
            CommissioningRecord.file_id == file.id,
            CommissioningRecord.step == CommissioningStep.TEST_CALL_BY_PERSON,
            CommissioningRecord.succeeded.is_(True),
        )
    )
    if already is None:
        session.add(
            CommissioningRecord(
                file_id=file.id,
                step=CommissioningStep.TEST_CALL_BY_PERSON,
                succeeded=True,
                alert_id=alert.id,
                at=clock.now(),
            )
        )
        session.flush()
    return complete_if_done(session, file, user=None, clock=clock)


def complete_if_done(
    session: Session, file: BeneficiaryFile, *, user: User | None, clock: Clock
) -> bool:
    """Make the file "attribué définitivement" when the three steps succeeded."""
    if file.state is not FileState.EN_CREATION or missing_steps(steps_done(session, file)):
        return False
    complete(session, file, user=user, clock=clock)
    return True


def complete(session: Session, file: BeneficiaryFile, *, user: User | None, clock: Clock) -> None:
    """R-11: the file is "attribué définitivement" and its line "affecté"."""
    check_commissioning_complete(steps_done(session, file))
    check_file_transition(file.state, FileState.ATTRIBUE)
    file.state = FileState.ATTRIBUE
    file.commissioned_at = clock.now()
    record = session.get(LineAssignment, file.assignment_id)
    assert record is not None
    if record.status is LineStatus.MISE_EN_SERVICE:
        lines.change_status(
            session, record, LineStatus.AFFECTE, user_id=user.id if user else None, clock=clock
        )
    session.flush()
