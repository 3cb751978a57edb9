"""What administrators see of the jobs: last run with its outcome, next run, rule, schedule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.operations import JobRun, SchedulerLease
from tgd.jobs import lease
from tgd.jobs.registry import JOBS
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


def job_statuses(session: Session, settings: Settings, *, now: datetime) -> list[JobStatus]:
    """Return every job with its last logged run and its next fire time after ``now``."""
    result = []
    for name, spec in JOBS.items():
        last = session.scalar(
            select(JobRun).where(JobRun.job == name).order_by(JobRun.id.desc()).limit(1)
        )
        trigger = spec.trigger(settings)
        result.append(
            JobStatus(
                name=name,
                label=spec.label,
                rule=spec.rule,
                schedule=str(trigger),
                last_run=last,
                next_run=trigger.get_next_fire_time(None, now),
            )
        )
    return result


def recent_runs(session: Session, *, limit: int = 50) -> list[JobRun]:
    """Return the latest logged runs, newest first."""
    return list(session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)))


def scheduler_holder(session: Session) -> str | None:
    """Return which process holds the scheduler lease now, if any."""
    held = session.get(SchedulerLease, lease.SCHEDULER)
    if held is None or held.expires_at < lease.wall_now():
        return None
    return held.holder
