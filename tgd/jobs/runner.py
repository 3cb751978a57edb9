"""Run one job and log it (R-33): a per-job lease against overlaps, a ``JobRun`` row with outcome.

Each job is a function of a ``JobContext`` (platform pieces, the injectable
clock, and ``since``: the instant the previous successful run covered, for
jobs that look at what changed). Jobs are catch-up queries, so running one
twice, or after a long outage, is always safe. A run takes the lease
``job:<name>`` for its duration, so a manual ``tgd jobs run`` and the
scheduler never run the same job at once.

A job cannot fail silently. Contention (the write gate full, a database lock, a
connection lost during a PostgreSQL restart) is retried inside the run with
exponential backoff; only what outlasts the retries fails the run, which is
recorded with its error. A job whose last ``ALARM_AFTER`` runs all failed raises
a supervisor alarm (console and audit log) at each further failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from tgd.db.models.operations import JobRun
from tgd.db.writes import Priority, WriteGateTimeout, write_transaction
from tgd.jobs import lease
from tgd.ports import AnchorCopy, Cipher, Clock, Geocoder, Telephony
from tgd.settings import Settings

log = logging.getLogger(__name__)

OK, ERROR = "ok", "error"
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)  # seconds: about 16 s of contention tolerated
ALARM_AFTER = 3  # consecutive failed runs before supervisors are alarmed


@dataclass(frozen=True)
class JobContext:
    """What a job may use."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    cipher: Cipher
    clock: Clock
    since: datetime | None = None
    name: str = ""
    telephony: Telephony | None = None
    anchor_copy: AnchorCopy | None = None
    geocoder: Geocoder | None = None

    def write(self) -> AbstractContextManager[Session]:
        """Open one short write transaction of this job (background priority)."""
        return write_transaction(
            self.sessions, priority=Priority.BACKGROUND, label=f"job {self.name}"
        )


def is_contention(exc: BaseException) -> bool:
    """Tell whether a failure is passing contention, worth retrying (not a bug)."""
    if isinstance(exc, WriteGateTimeout | PoolTimeout):
        return True
    if isinstance(exc, OperationalError):
        return True  # SQLite "database is locked", PostgreSQL restarting or lock timeout
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def retrying(
    func: Callable[[], dict[str, Any]], *, name: str, delays: tuple[float, ...] = RETRY_DELAYS
) -> tuple[dict[str, Any], int]:
    """Run ``func``, retrying contention with backoff; return its result and the retries used."""
    for attempt, delay in enumerate((*delays, None)):
        try:
            return func(), attempt
        except Exception as exc:
            if delay is None or not is_contention(exc):
                raise
            log.warning(
                "job %s met contention (%s), retry %s in %.1f s",
                name,
                type(exc).__name__,
                attempt + 1,
                delay,
            )
            time.sleep(delay)
    raise AssertionError("unreachable")


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
    # Leader duties (escalation, every second) run under the scheduler's lease alone: no
    # per-job lease (two writes a second for nothing), idempotent if ever run twice.
    leased: bool = True
    retry_delays: tuple[float, ...] = RETRY_DELAYS
    # How long after its schedule's times the job fires. The jobs on intervals are added
    # together at start, so each would fire in the same instant as the others every time
    # their intervals meet (the audit sealer with every fifth escalation pass, all four
    # jobs every minute), and the calls of that moment waited for the lot of them.
    phase: timedelta = timedelta(0)


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
    retry_delays: tuple[float, ...] | None = None,
    telephony: Telephony | None = None,
    anchor_copy: AnchorCopy | None = None,
    geocoder: Geocoder | None = None,
) -> JobRun | None:
    """Run a job once under its lease and record the run; re-raise what it raised."""
    lock = f"job:{spec.name}"
    if spec.leased and lease.acquire(sessions, lock, holder, spec.max_duration) is None:
        raise JobBusy(spec.name)
    started = clock.now()
    try:
        since = None
        if manual_at is None and spec.leased:
            # A run at another date looks at everything: its window is not the real one.
            with sessions() as session:
                since = last_covered(session, spec.name)
        context = JobContext(
            settings,
            engine,
            sessions,
            cipher,
            clock,
            since=since,
            name=spec.name,
            telephony=telephony,
            anchor_copy=anchor_copy,
            geocoder=geocoder,
        )
        try:
            details, retries = retrying(
                lambda: spec.func(context),
                name=spec.name,
                delays=spec.retry_delays if retry_delays is None else retry_delays,
            )
        except Exception as exc:
            log.exception("job %s failed", spec.name)
            failed = {"error": type(exc).__name__, "message": _safe_message(exc)}
            _record(sessions, spec, started, clock, ERROR, failed, holder, manual_at)
            if manual_at is None:
                _alarm_if_failing(sessions, spec, clock)
            raise
        if retries:
            details = {**details, "retries": retries}
        if spec.quiet and not details.get("count"):
            log.debug("job %s: nothing to do", spec.name)
            return None
        log.info("job %s ok %s", spec.name, details)
        return _record(sessions, spec, started, clock, OK, details, holder, manual_at)
    finally:
        if spec.leased:
            lease.release(sessions, lock, holder)


def _safe_message(exc: BaseException) -> str:
    # The exception's class and the first words of its message, never parameters.
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else ""
    return text[:120]


def consecutive_failures(session: Session, name: str) -> int:
    """Count the job's latest real runs that failed, newest first, up to the last success."""
    count = 0
    query = select(JobRun).where(JobRun.job == name).order_by(JobRun.id.desc()).limit(50)
    for run in session.scalars(query):
        if run.details.get("at"):
            continue
        if run.outcome == OK:
            break
        count += 1
    return count


def _alarm_if_failing(sessions: sessionmaker[Session], spec: JobSpec, clock: Clock) -> None:
    from tgd.services.alerts import raise_supervisor_alarm

    try:
        with write_transaction(sessions, label=f"job {spec.name} alarm") as session:
            failures = consecutive_failures(session, spec.name)
            if failures >= ALARM_AFTER:
                raise_supervisor_alarm(
                    session,
                    "job_failing",
                    {"job": spec.name, "failures": failures},
                    clock=clock,
                    actor="system:scheduler",
                )
    except Exception:  # the failure itself is already logged and recorded
        log.exception("job %s: the supervisor alarm could not be raised", spec.name)


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
    run = JobRun(
        job=spec.name,
        started_at=started,
        covered_until=started,
        finished_at=clock.now(),
        outcome=outcome,
        details={**details, **extra},
    )

    def record() -> dict[str, Any]:
        with write_transaction(sessions, label=f"job {spec.name} record") as session:
            session.add(run)
        return {}

    retrying(record, name=spec.name)
    return run
