"""The scheduler (E-06, R-33): APScheduler 3.x, one leader across processes, missed runs caught up.

APScheduler has no cross-process locking, so every process may run a
``Scheduler`` but only the holder of the database lease ``scheduler`` acts:
a heartbeat renews the lease every third of its lifetime, a standby tries to
take it, and each job checks leadership before running. When a process
becomes leader it catches up every job whose last run is older than its
previous fire time (the process, or all of them, was down); jobs are
catch-up queries, so a run late, twice, or at start is always safe.

Two ways to run it: ``tgd scheduler`` (``run_forever``, the dedicated process
of the multi-process mode) and ``start_embedded(platform)``, which starts it
in a background thread of the app process (embedded mode).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session

from tgd.container import Platform
from tgd.db.writes import WriteGateTimeout
from tgd.jobs import lease
from tgd.jobs.registry import JOBS
from tgd.jobs.runner import (
    JobBusy,
    JobSpec,
    consecutive_failures,
    last_scheduled_start,
    run_job,
)
from tgd.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=15)
HEARTBEAT = "_lease"


class Scheduler:
    """One process's scheduler: acts only while it holds the lease."""

    def __init__(
        self,
        platform: Platform,
        *,
        blocking: bool = False,
        lease_ttl: timedelta = DEFAULT_LEASE,
        jobs: Mapping[str, JobSpec] = JOBS,
    ) -> None:
        self.platform = platform
        self.jobs = dict(jobs)
        self.lease_ttl = lease_ttl
        self.holder = lease.new_holder()
        self._leader_until: datetime | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._catch_up_thread: threading.Thread | None = None
        options: dict[str, Any] = {
            "timezone": UTC,
            "job_defaults": {"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        }
        self.aps: BaseScheduler = (
            BlockingScheduler(**options) if blocking else BackgroundScheduler(**options)
        )

    # --- leadership ----------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """Tell whether this process holds the lease, with a margin for the clock."""
        with self._lock:
            until = self._leader_until
        return until is not None and lease.wall_now() < until - self.lease_ttl / 5

    def heartbeat(self) -> None:
        """Renew or take the lease; on becoming leader, catch up the missed runs."""
        try:
            until = lease.acquire(
                self.platform.sessions,
                lease.SCHEDULER,
                self.holder,
                self.lease_ttl,
                timeout=self.lease_ttl.total_seconds() / 3,  # a renewal too late is no renewal
            )
        except WriteGateTimeout:
            # A burst of alerts holds the gate (they go first): the next heartbeat tries
            # again. Leadership lapses by itself if the lease runs out (``is_leader``).
            log.warning("scheduler %s: lease renewal postponed (write gate busy)", self.holder)
            return
        with self._lock:
            was_leader = self._leader_until is not None
            self._leader_until = until
        if until is not None and not was_leader:
            log.info("scheduler %s is the leader", self.holder)
            self._start_catch_up()
        elif until is None and was_leader:
            log.warning("scheduler %s lost the lease: standing by", self.holder)

    def catch_up(self) -> list[str]:
        """R-33: run, one after another, every job missed while no leader ran it.

        Missed: never ran, its schedule fired since its last real run, or its last run
        failed. One after another: a start-up is not a burst of jobs fighting for the
        write gate, and what is due at start (a destruction) is done at start.
        """
        now = lease.wall_now()
        with self.platform.sessions() as session:
            missed = missed_jobs(session, self.jobs, self.platform.settings, now=now)
        for name in missed:
            if self._stop.is_set() or not self.is_leader:
                break
            log.info("scheduler: catching up %s", name)
            self.run(name)
        return missed

    def _start_catch_up(self) -> None:
        # Its own thread: the heartbeat keeps renewing the lease while the jobs run.
        thread = threading.Thread(target=self._catch_up_safely, name="tgd-catch-up", daemon=True)
        self._catch_up_thread = thread
        thread.start()

    def _catch_up_safely(self) -> None:
        try:
            self.catch_up()
        except Exception:  # each job records its own failure; the schedule goes on
            log.exception("scheduler: catch-up stopped")

    # --- running -------------------------------------------------------------------------

    def run(self, name: str) -> None:
        """Run one job if this process is the leader (called by APScheduler)."""
        if not self.is_leader:
            return
        platform = self.platform
        try:
            run_job(
                self.jobs[name],
                settings=platform.settings,
                engine=platform.engine,
                sessions=platform.sessions,
                cipher=platform.cipher,
                clock=platform.clock,
                holder=self.holder,
                telephony=platform.telephony,
                anchor_copy=platform.anchor_copy,
                geocoder=platform.geocoder,
            )
        except JobBusy:
            log.info("job %s already running elsewhere", name)
        except Exception:  # recorded by run_job, alarmed when it keeps failing
            log.debug("job %s failed (recorded)", name)

    def start(self) -> None:
        """Schedule the heartbeat and the jobs, then start (blocks for ``blocking=True``)."""
        renew = max(self.lease_ttl.total_seconds() / 3, 0.2)
        self.aps.add_job(
            self.heartbeat,
            IntervalTrigger(seconds=renew),
            id=HEARTBEAT,
            next_run_time=lease.wall_now(),
        )
        now = lease.wall_now()
        for name, spec in self.jobs.items():
            trigger = spec.trigger(self.platform.settings)
            first = trigger.get_next_fire_time(None, now)
            phased = {} if first is None else {"next_run_time": first + spec.phase}
            # The runs that follow keep the phase: each is its schedule's next time after
            # the run before.
            self.aps.add_job(self.run, trigger, args=[name], id=name, name=name, **phased)
        log.info("scheduler %s started with %s job(s)", self.holder, len(self.jobs))
        self.aps.start()

    def shutdown(self) -> None:
        """Stop the jobs, wait for running ones, and give the lease up."""
        self._stop.set()
        if self.aps.running:
            # Running jobs are not awaited: they are catch-up queries in short transactions,
            # so one cut short is simply done again by the next leader.
            self.aps.shutdown(wait=False)
        if self._catch_up_thread is not None:
            self._catch_up_thread.join(timeout=2)
        lease.release(self.platform.sessions, lease.SCHEDULER, self.holder)
        with self._lock:
            self._leader_until = None
        log.info("scheduler %s stopped", self.holder)


def missed_jobs(
    session: Session, jobs: Mapping[str, JobSpec], settings: Settings, *, now: datetime
) -> list[str]:
    """Return the jobs that never ran, or whose schedule fired since their last real run."""
    missed = []
    for name, spec in jobs.items():
        last = last_scheduled_start(session, name)
        if last is None or consecutive_failures(session, name):
            missed.append(name)
            continue
        following = spec.trigger(settings).get_next_fire_time(last, last)
        if following is not None and following <= now:
            missed.append(name)
    return missed


def start_embedded(platform: Platform, *, lease_ttl: timedelta = DEFAULT_LEASE) -> Scheduler:
    """Start the scheduler in a background thread of the app process (embedded mode)."""
    scheduler = Scheduler(platform, blocking=False, lease_ttl=lease_ttl)
    try:
        scheduler.heartbeat()  # leader (or standing by) before the process serves: /readyz
    except Exception:  # the database is busy or down: the scheduled heartbeat retries
        log.warning("scheduler: first heartbeat failed; retrying on schedule", exc_info=True)
    scheduler.start()
    return scheduler


def run_forever(platform: Platform, *, lease_ttl: timedelta = DEFAULT_LEASE) -> None:
    """Run the dedicated scheduler process until SIGTERM or SIGINT (multi-process mode)."""
    scheduler = Scheduler(platform, blocking=True, lease_ttl=lease_ttl)

    def _stop(signum: int, _frame: Any) -> None:
        log.info("scheduler: signal %s, stopping", signum)
        scheduler.aps.shutdown(wait=False)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        scheduler.start()
    finally:
        scheduler.shutdown()
