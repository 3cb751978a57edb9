"""What administrators see of the jobs: last success, last failure, next run, rule, schedule.

A job is *healthy* when its last run succeeded and nothing it owes is pending: a
destruction whose master-key rotation has not completed is not done (R-52), even if
the run that destroyed the files was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.operations import JobRun, SchedulerLease
from tgd.jobs import lease
from tgd.jobs.registry import JOBS
from tgd.jobs.runner import ERROR, OK, consecutive_failures
from tgd.services.retention import DESTRUCTION_JOB, rotation_pending_in
from tgd.settings import Settings


@dataclass(frozen=True)
class JobStatus:
    """One job's state."""

    name: str
    label: str
    rule: str
    schedule: str
    last_run: JobRun | None
    next_run: datetime | None
    last_success: JobRun | None = None
    last_failure: JobRun | None = None
    failures_in_a_row: int = 0
    pending: str | None = None  # what the job still owes, when its last run left work undone

    @property
    def healthy(self) -> bool:
        """Tell whether the job's last run succeeded and it owes nothing."""
        return self.failures_in_a_row == 0 and self.pending is None


def job_statuses(session: Session, settings: Settings, *, now: datetime) -> list[JobStatus]:
    """Return every job with its last logged run and its next fire time after ``now``."""
    result = []
    for name, spec in JOBS.items():
        trigger = spec.trigger(settings)
        result.append(
            JobStatus(
                name=name,
                label=spec.label,
                rule=spec.rule,
                schedule=str(trigger),
                last_run=_last(session, name),
                next_run=trigger.get_next_fire_time(None, now),
                last_success=_last(session, name, OK),
                last_failure=_last(session, name, ERROR),
                failures_in_a_row=consecutive_failures(session, name),
                pending=_pending(session, name),
            )
        )
    return result


def _last(session: Session, name: str, outcome: str | None = None) -> JobRun | None:
    query = select(JobRun).where(JobRun.job == name)
    if outcome is not None:
        query = query.where(JobRun.outcome == outcome)
    return session.scalar(query.order_by(JobRun.id.desc()).limit(1))


def _pending(session: Session, name: str) -> str | None:
    if name == DESTRUCTION_JOB and rotation_pending_in(session):
        return "rotation"  # files destroyed, but copies taken before stay readable until done
    return None


def recent_runs(session: Session, *, limit: int = 50) -> list[JobRun]:
    """Return the latest logged runs, newest first."""
    return list(session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)))


def scheduler_holder(session: Session) -> str | None:
    """Return which process holds the scheduler lease now, if any."""
    held = session.get(SchedulerLease, lease.SCHEDULER)
    if held is None or held.expires_at < lease.wall_now():
        return None
    return held.holder
