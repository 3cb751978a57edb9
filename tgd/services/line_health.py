"""Line health (issue 15, item 5): follow-up tasks for silent lines and suspicious patterns.

The job (``check_lines``) is a catch-up query like the test-call chase (R-30):
it first remembers the last position of each line (positions are purged after
a few days, R-16b), then looks at every line in service (current assignment
``affecte``) and opens one ``Task`` of kind ``line_health`` per finding:

- *silence*: nothing heard from the line (call, position, test, carrier call
  record) for ``silence_days``; the task follows that last sign of life
  (``dedup_key`` names it), so it is opened once and closed by the job as soon
  as the line is heard again;
- *short calls*: at least ``short_calls`` calls shorter than
  ``short_call_seconds`` within ``short_calls_window_hours``;
- *accidental alerts*: at least ``accidental_alerts`` alerts closed as
  accidental within ``accidental_window_days``.

A pattern task is closed by the job when the window no longer shows the
pattern; a new one only counts what happened after the previous task was
opened, so a pattern an operator has just dealt with is not flagged again at
once. Every task closes when the line leaves service. Operators record guided
steps (``record_step``): call the terminal, conclude, or contact the
association référente; calls are proposed at reasonable local hours.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert, CallLeg
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.cdr import CarrierCallRecord
from tgd.db.models.line_health import LineActivity
from tgd.db.models.lines import Line, LineAssignment
from tgd.db.models.operations import Task, TaskStep
from tgd.db.models.positions import Position
from tgd.db.models.territories import Juridiction, Territory
from tgd.domain.alerts import AlertNature, LegRole
from tgd.domain.errors import N_, ValidationError
from tgd.domain.lifecycle import LineStatus
from tgd.domain.line_health import (
    CALL_STEPS,
    Call,
    HealthOutcome,
    HealthReason,
    HealthStep,
    Thresholds,
    accidental_burst,
    check_health_step,
    is_silent,
    next_health_step,
    short_call_burst,
)
from tgd.domain.restrictions import Channel
from tgd.domain.schedules import is_call_hour, next_call_time
from tgd.ports import Clock
from tgd.services import audit, tasks
from tgd.services.tasks import DONE, OPEN
from tgd.settings import LineHealthSettings

log = logging.getLogger(__name__)

KIND = "line_health"
GUIDE = tasks.Guide(CALL_STEPS, check_health_step, next_health_step)


@dataclass(frozen=True)
class HealthRun:
    """What one run of the line-health job did."""

    lines: int
    opened: int
    closed: int
    positions: int


@dataclass(frozen=True)
class _InService:
    line_id: int
    file_id: int | None
    timezone: str
    since: datetime  # when the current assignment became "affecté"
    last_test: datetime | None


@dataclass(frozen=True)
class HealthTaskView:
    """A line-health task as operators see it (reference, reason, times; no personal data)."""

    task: Task
    reason: HealthReason
    anchor: datetime | None  # last sign of life (silence) or first event of the pattern
    reference: str | None
    timezone: str
    steps: list[TaskStep]
    next_step: HealthStep | None
    is_call_hour: bool


def thresholds(settings: LineHealthSettings) -> Thresholds:
    """Return the domain thresholds of the ``[line_health]`` settings."""
    return Thresholds(
        silence=timedelta(days=settings.silence_days),
        short_call_seconds=settings.short_call_seconds,
        short_calls=settings.short_calls,
        short_calls_window=timedelta(hours=settings.short_calls_window_hours),
        accidental_alerts=settings.accidental_alerts,
        accidental_window=timedelta(days=settings.accidental_window_days),
    )


def _key(reason: HealthReason, line_id: int, anchor: datetime) -> str:
    return f"{KIND}:{reason.value}:{line_id}:{anchor.astimezone(UTC).isoformat()}"


def parse_key(key: str | None) -> tuple[HealthReason, int, datetime] | None:
    """Read the reason, line and anchor a task's ``dedup_key`` names."""
    parts = (key or "").split(":", 3)
    if len(parts) != 4 or parts[0] != KIND:
        return None
    try:
        return HealthReason(parts[1]), int(parts[2]), datetime.fromisoformat(parts[3])
    except ValueError:
        return None


def remember_positions(session: Session, *, since: datetime | None, clock: Clock) -> int:
    """Keep each line's last position time before the positions are purged (R-16b)."""
    query = select(Position.line_id, func.max(Position.received_at)).where(
        Position.line_id.is_not(None)
    )
    if since is not None:
        query = query.where(Position.received_at >= since)
    latest = dict(session.execute(query.group_by(Position.line_id)).all())
    known = {a.line_id: a for a in session.scalars(select(LineActivity))}
    for line_id, at in latest.items():
        if line_id is None:
            continue
        row = known.get(line_id)
        if row is None:
            session.add(LineActivity(line_id=line_id, last_position_at=at, updated_at=clock.now()))
        elif row.last_position_at is None or at > row.last_position_at:
            row.last_position_at, row.updated_at = at, clock.now()
    session.flush()
    return len(latest)


def _in_service(session: Session) -> dict[int, _InService]:
    rows = session.execute(
        select(
            LineAssignment.line_id,
            BeneficiaryFile.id,
            Territory.timezone,
            LineAssignment.status_changed_at,
            BeneficiaryFile.last_test_call_at,
        )
        .join(Line, Line.id == LineAssignment.line_id)
        .join(Juridiction, Juridiction.id == Line.juridiction_id)
        .join(Territory, Territory.id == Juridiction.territory_id)
        .outerjoin(BeneficiaryFile, BeneficiaryFile.assignment_id == LineAssignment.id)
        .where(LineAssignment.is_current.is_(True), LineAssignment.status == LineStatus.AFFECTE)
    ).all()
    return {r[0]: _InService(*r) for r in rows}


def _last_heard(session: Session, lines: dict[int, _InService]) -> dict[int, datetime]:
    heard: dict[int, datetime] = {i: s.since for i, s in lines.items()}

    def later(values: Mapping[int | None, datetime | None]) -> None:
        for line_id, at in values.items():
            if line_id in heard and at is not None and at > heard[line_id]:
                heard[line_id] = at

    later(
        dict(
            session.execute(
                select(Alert.line_id, func.max(Alert.ringing_at))
                .where(Alert.line_id.is_not(None), Alert.is_canary.is_(False))
                .group_by(Alert.line_id)
            ).all()
        )
    )
    later(
        dict(
            session.execute(
                select(CarrierCallRecord.line_id, func.max(CarrierCallRecord.started_at)).group_by(
                    CarrierCallRecord.line_id
                )
            ).all()
        )
    )
    later(dict(session.execute(select(LineActivity.line_id, LineActivity.last_position_at)).all()))
    later({i: s.last_test for i, s in lines.items()})
    return heard


def _calls(session: Session, start: datetime) -> dict[int, list[Call]]:
    durations = dict(
        session.execute(
            select(CallLeg.alert_id, func.max(CallLeg.duration_s))
            .join(Alert, Alert.id == CallLeg.alert_id)
            .where(
                CallLeg.role == LegRole.CALLER,
                CallLeg.duration_s.is_not(None),
                Alert.ringing_at >= start,
            )
            .group_by(CallLeg.alert_id)
        ).all()
    )
    calls: dict[int, list[Call]] = defaultdict(list)
    for alert in session.scalars(
        select(Alert).where(
            Alert.ringing_at >= start,
            Alert.line_id.is_not(None),
            Alert.is_canary.is_(False),
            Alert.is_test.is_(False),
            Alert.restricted_channel.is_distinct_from(Channel.SMS),  # an SMS is no call
        )
    ):
        duration = durations.get(alert.id)
        if duration is None and alert.ended_at is not None:
            began = alert.answered_at or alert.ringing_at
            duration = int((alert.ended_at - began).total_seconds())
        assert alert.line_id is not None
        calls[alert.line_id].append(Call(alert.ringing_at, duration))
    return calls


def _accidental(session: Session, start: datetime) -> dict[int, list[datetime]]:
    found: dict[int, list[datetime]] = defaultdict(list)
    for line_id, at in session.execute(
        select(Alert.line_id, Alert.ringing_at).where(
            Alert.ringing_at >= start,
            Alert.line_id.is_not(None),
            Alert.nature == AlertNature.ACCIDENTEL,
        )
    ):
        if line_id is not None:
            found[line_id].append(at)
    return found


def check_lines(
    session: Session, *, settings: LineHealthSettings, since: datetime | None, clock: Clock
) -> HealthRun:
    """Open the tasks due now for silent lines and suspicious patterns; close the others."""
    now = clock.now()
    limits = thresholds(settings)
    positions = remember_positions(session, since=since, clock=clock)
    lines = _in_service(session)
    heard = _last_heard(session, lines)
    widest = max(limits.short_calls_window, limits.accidental_window)
    calls = _calls(session, now - limits.short_calls_window)
    accidents = _accidental(session, now - limits.accidental_window)
    health_tasks = list(session.scalars(select(Task).where(Task.kind == KIND)))
    latest: dict[tuple[HealthReason, int], datetime] = {}
    open_tasks: dict[tuple[HealthReason, int], Task] = {}
    keys = set()
    for task in health_tasks:
        parsed = parse_key(task.dedup_key)
        if parsed is None:
            continue
        reason, line_id, _ = parsed
        keys.add(task.dedup_key)
        if task.created_at > latest.get((reason, line_id), now - widest - timedelta(days=1)):
            latest[(reason, line_id)] = task.created_at
        if task.status == OPEN:
            open_tasks[(reason, line_id)] = task

    findings: dict[tuple[HealthReason, int], datetime] = {}
    for line_id in lines:
        if is_silent(heard[line_id], now, limits.silence):
            findings[(HealthReason.SILENCE, line_id)] = heard[line_id]
        for reason in (HealthReason.APPELS_COURTS, HealthReason.ALERTES_ACCIDENTELLES):
            # An open task stays while the window shows the pattern; a new one counts only
            # what happened after the previous task of this kind was opened.
            start = (
                now - widest
                if (reason, line_id) in open_tasks
                else latest.get((reason, line_id), now - widest)
            )
            if reason is HealthReason.APPELS_COURTS:
                first = short_call_burst(
                    calls.get(line_id, []), since=start, now=now, thresholds=limits
                )
            else:
                first = accidental_burst(
                    accidents.get(line_id, []), since=start, now=now, thresholds=limits
                )
            if first is not None:
                findings[(reason, line_id)] = first

    closed = _close_done(session, open_tasks, lines, heard, findings, now=now)
    opened = 0
    for (reason, line_id), anchor in findings.items():
        if (reason, line_id) in open_tasks and open_tasks[(reason, line_id)].status == OPEN:
            continue
        key = _key(reason, line_id, anchor)
        if key in keys:
            continue  # R-30 style: one task per episode, never opened twice
        _open(session, reason, lines[line_id], key, anchor, now=now, clock=clock)
        opened += 1
    session.flush()
    if opened or closed:
        log.info("line health: %s task(s) opened, %s closed", opened, closed)
    return HealthRun(lines=len(lines), opened=opened, closed=closed, positions=positions)


def _close_done(
    session: Session,
    open_tasks: dict[tuple[HealthReason, int], Task],
    lines: dict[int, _InService],
    heard: dict[int, datetime],
    findings: dict[tuple[HealthReason, int], datetime],
    *,
    now: datetime,
) -> int:
    closed = 0
    for (reason, line_id), task in open_tasks.items():
        parsed = parse_key(task.dedup_key)
        assert parsed is not None
        if line_id not in lines:
            step = HealthStep.HORS_SERVICE
        elif reason is HealthReason.SILENCE and heard[line_id] > parsed[2]:
            step = HealthStep.ACTIVITE_REPRISE
        elif reason is not HealthReason.SILENCE and (reason, line_id) not in findings:
            step = HealthStep.MOTIF_RESORBE
        else:
            continue
        session.add(TaskStep(task_id=task.id, step=step, outcome=HealthOutcome.FAIT, at=now))
        task.status, task.closed_at = DONE, now
        closed += 1
    return closed


def _open(
    session: Session,
    reason: HealthReason,
    line: _InService,
    key: str,
    anchor: datetime,
    *,
    now: datetime,
    clock: Clock,
) -> Task:
    task = Task(
        kind=KIND,
        file_id=line.file_id,
        line_id=line.line_id,
        status=OPEN,
        due_at=next_call_time(now, line.timezone),  # reasonable local hours, like R-30
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
        details={"kind": KIND, "reason": reason.value, "line": line.line_id},
        clock=clock,
    )
    return task


# --- operators ------------------------------------------------------------------------------


def list_tasks(
    session: Session, *, default_timezone: str, include_done: bool = False, limit: int = 200
) -> list[HealthTaskView]:
    """Return line-health tasks, open first by due time."""
    found = tasks.list_tasks(session, kind=KIND, include_done=include_done, limit=limit)
    return [task_view(session, t, default_timezone=default_timezone, clock=None) for t in found]


def get_task(session: Session, task_id: int) -> Task:
    """Return a line-health task, or raise ``NotFound``."""
    return tasks.get_task(session, task_id, kind=KIND)


def task_view(
    session: Session, task: Task, *, default_timezone: str, clock: Clock | None
) -> HealthTaskView:
    """Describe a task: reason, reference, time zone, steps done and the next one."""
    parsed = parse_key(task.dedup_key)
    reason, anchor = (parsed[0], parsed[2]) if parsed else (HealthReason.SILENCE, None)
    row = None
    if task.line_id is not None:
        row = session.execute(
            select(LineAssignment.reference, Territory.timezone)
            .join(Line, Line.id == LineAssignment.line_id)
            .join(Juridiction, Juridiction.id == Line.juridiction_id)
            .join(Territory, Territory.id == Juridiction.territory_id)
            .where(LineAssignment.line_id == task.line_id, LineAssignment.is_current.is_(True))
        ).first()
    reference, timezone = row if row is not None else (None, default_timezone)
    steps = tasks.steps_of(session, task)
    return HealthTaskView(
        task=task,
        reason=reason,
        anchor=anchor,
        reference=reference,
        timezone=timezone,
        steps=steps,
        next_step=next_health_step([(s.step, s.outcome) for s in steps])
        if task.status == OPEN
        else None,
        is_call_hour=is_call_hour(clock.now(), timezone) if clock else True,
    )


def record_step(
    session: Session,
    task: Task,
    *,
    step: HealthStep,
    outcome: HealthOutcome,
    user_id: int,
    override_hours: bool = False,
    default_timezone: str,
    clock: Clock,
) -> TaskStep:
    """Record one guided step with its outcome; close the task after its last step (audited)."""
    if task.status != OPEN:
        raise ValidationError(N_("Ce suivi est terminé."))
    view = task_view(session, task, default_timezone=default_timezone, clock=clock)
    return tasks.record_step(
        session, view, GUIDE, step, outcome, user_id=user_id, override=override_hours, clock=clock
    )
