"""Run one job and log it (R-33): a per-job lease against overlaps, a ``JobRun`` row with outcome.

Each job is a function of a ``JobContext`` (platform pieces, the injectable
clock, and ``since``: the instant the previous successful run covered, for
jobs that look at what changed). Jobs are catch-up queries, so running one
twice, or after a long outage, is always safe. A run takes the lease
``job:<name>`` for its duration, so a manual ``tgd jobs run`` and the
scheduler never run the same job at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tgd.db.models.operations import JobRun
from tgd.jobs import lease
from tgd.ports import Cipher, Clock
from tgd.settings import Settings

log = logging.getLogger(__name__)

OK, ERROR = "ok", "error"


@dataclass(frozen=True)
class JobContext:
    """What a job may use."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    cipher: Cipher
    clock: Clock
    since: datetime | None = None


@dataclass(frozen=True)
class JobSpec:
    """A job: its name, French label, function and schedule."""

    name: str
    label: str
    func: Callable[[JobContext], dict[str, Any]]
    trigger: Callable[[Settings], BaseTrigger]
    rule: str
    # Quiet jobs (the audit sealer, every few seconds) log a run only when it did something.
    quiet: bool = False
    max_duration: timedelta = timedelta(minutes=30)
    tags: tuple[str, ...] = field(default=())


class JobBusy(RuntimeError):
    """The job is already running elsewhere (its lease is held)."""


def _last_real_run(session: Session, name: str, *, ok_only: bool) -> JobRun | None:
    # Runs "as if it were" another date (tgd jobs run --at) are left aside.
    query = select(JobRun).where(JobRun.job == name)
    if ok_only:
        query = query.where(JobRun.outcome == OK)
    for run in session.scalars(query.order_by(JobRun.id.desc()).limit(50)):
        if not run.details.get("at"):
            return run
    return None


def last_covered(session: Session, name: str) -> datetime | None:
    """Return the instant the last successful run of a job covered."""
    run = _last_real_run(session, name, ok_only=True)
    return run.covered_until if run else None


def last_scheduled_start(session: Session, name: str) -> datetime | None:
    """Return when the job last ran for real, whatever its outcome."""
    run = _last_real_run(session, name, ok_only=False)
    return run.started_at if run else None


def run_job(
    spec: JobSpec,
    *,
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    cipher: Cipher,
    clock: Clock,
    holder: str,
    manual_at: datetime | None = None,
) -> JobRun | None:
    """Run a job once under its lease and record the run; re-raise what it raised."""
    lock = f"job:{spec.name}"
    if lease.acquire(sessions, lock, holder, spec.max_duration) is None:
        raise JobBusy(spec.name)
    started = clock.now()
    try:
        with sessions() as session:
            # A run at another date looks at everything: its window is not the real one.
            since = None if manual_at is not None else last_covered(session, spec.name)
        context = JobContext(settings, engine, sessions, cipher, clock, since=since)
        try:
            details = spec.func(context)
        except Exception as exc:
            log.exception("job %s failed", spec.name)
            _record(
                sessions,
                spec,
                started,
                clock,
                ERROR,
                {"error": type(exc).__name__},
                holder,
                manual_at,
            )
            raise
        if spec.quiet and not details.get("count"):
            log.debug("job %s: nothing to do", spec.name)
            return None
        log.info("job %s ok %s", spec.name, details)
        return _record(sessions, spec, started, clock, OK, details, holder, manual_at)
    finally:
        lease.release(sessions, lock, holder)


def _record(
    sessions: sessionmaker[Session],
    spec: JobSpec,
    started: datetime,
    clock: Clock,
    outcome: str,
    details: dict[str, Any],
    holder: str,
    manual_at: datetime | None,
) -> JobRun:
    extra: dict[str, Any] = {"holder": holder}
    if manual_at is not None:
        extra["at"] = manual_at.isoformat()
    with sessions.begin() as session:
        run = JobRun(
            job=spec.name,
            started_at=started,
            covered_until=started,
            finished_at=clock.now(),
            outcome=outcome,
            details={**details, **extra},
        )
        session.add(run)
    return run
