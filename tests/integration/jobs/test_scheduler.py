"""One scheduler acts at a time (E-06, R-33): the lease, takeover, catch-up of missed runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import stamp_revision
from tgd.container import Platform
from tgd.db.models import JobRun
from tgd.db.writes import write_transaction
from tgd.jobs import lease
from tgd.jobs.registry import JOBS
from tgd.jobs.scheduler import Scheduler, missed_jobs, start_embedded
from tgd.readiness import head_revision


def test_a_second_holder_waits_until_the_lease_expires(platform: Platform) -> None:
    ttl = timedelta(seconds=30)
    assert lease.acquire(platform.sessions, "scheduler", "a", ttl) is not None
    assert lease.acquire(platform.sessions, "scheduler", "b", ttl) is None
    assert lease.acquire(platform.sessions, "scheduler", "a", ttl) is not None  # renewal
    # "a" dies: its last renewal has run out (a negative lifetime stands for the wait).
    assert lease.acquire(platform.sessions, "scheduler", "a", -ttl) is not None
    assert lease.acquire(platform.sessions, "scheduler", "b", ttl) is not None
    assert lease.current_holder(platform.sessions) == "b"
    assert lease.acquire(platform.sessions, "scheduler", "a", ttl) is None


def test_missed_runs_are_caught_up_and_recent_ones_are_not(platform: Platform) -> None:
    now = datetime(2026, 11, 24, 9, 7, tzinfo=UTC)  # 10:07 in Paris
    with write_transaction(platform.sessions) as s:
        assert set(missed_jobs(s, JOBS, platform.settings, now=now)) == set(JOBS)  # never ran
        for name, started in (
            ("destruction", datetime(2026, 11, 23, 1, 30, tzinfo=UTC)),  # before last night 02:30
            ("test_chase", now - timedelta(minutes=5)),
            ("line_health", now - timedelta(minutes=5)),
            ("service_levels", now - timedelta(seconds=20)),
            ("positions_retention", now - timedelta(minutes=1)),
            ("audit_seal", now - timedelta(seconds=2)),
            ("escalation", now - timedelta(seconds=0.5)),
            ("geocoding", now - timedelta(seconds=10)),
        ):
            s.add(JobRun(job=name, started_at=started, covered_until=started, outcome="ok"))
    with platform.sessions() as s:
        assert missed_jobs(s, JOBS, platform.settings, now=now) == ["destruction"]


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_embedded_scheduler_leads_and_catches_up_at_start(platform: Platform) -> None:
    handle = start_embedded(platform, lease_ttl=timedelta(seconds=3))
    try:
        _wait_for(lambda: lease.current_holder(platform.sessions) == handle.holder, 10)

        def ran() -> set[str]:
            with platform.sessions() as s:
                return set(s.scalars(select(JobRun.job)))

        # Never run before: each job runs at once (quiet ones with nothing to do leave no row).
        _wait_for(lambda: ran() >= {name for name, spec in JOBS.items() if not spec.quiet}, 20)
    finally:
        handle.shutdown()
    assert lease.current_holder(platform.sessions) is None  # given up on shutdown


def test_the_jobs_on_intervals_never_start_in_the_same_instant(platform: Platform) -> None:
    # Added together at start, the audit sealer fired with every fifth escalation pass and
    # all four jobs together every minute: the calls of that moment waited for the lot.
    scheduler = Scheduler(platform, blocking=False)
    scheduler.start()
    try:
        names = ("escalation", "audit_seal", "geocoding", "service_levels")
        firsts = {name: scheduler.aps.get_job(name).next_run_time for name in names}
    finally:
        scheduler.shutdown()
    starts: list[datetime] = []
    for name, first in firsts.items():
        trigger = JOBS[name].trigger(platform.settings)
        at = first
        while at < first + timedelta(minutes=2):  # as APScheduler follows a schedule
            starts.append(at)
            at = trigger.get_next_fire_time(at, at)
    assert len(starts) == 120 + 24 + 4 + 2
    closest = min(later - earlier for earlier, later in pairwise(sorted(starts)))
    assert closest >= timedelta(seconds=0.2)  # a quarter of a second, give or take


def _holder_pid(platform: Platform) -> int | None:
    holder = lease.current_holder(platform.sessions)
    return int(holder.split(":")[1]) if holder else None


def test_two_scheduler_processes_one_leader_takeover_after_sigkill(
    platform: Platform, tmp_path: Path
) -> None:
    settings = platform.settings
    stamp_revision(platform.engine, head_revision())  # the scheduler refuses an unmigrated base
    env = {
        **os.environ,
        "TGD_MODE": "test",
        "TGD_DATA_DIR": str(settings.data_dir),
        "TGD_DATABASE_URL": settings.database_url,
        "TGD_SECRET_KEY": settings.secret_key,
        "TGD_MASTER_KEY_FILE": str(tmp_path / "proc-master.key"),
        "TGD_TWILIO_AUTH_TOKEN": settings.twilio.auth_token,
        "TGD_SECURITY_PASSWORD_HASHING": "fast",
    }
    env.pop("TGD_CONFIG", None)
    command = [
        sys.executable,
        "-c",
        "from tgd.cli import main; main()",
        "scheduler",
        "--lease-seconds",
        "2",
    ]
    logs = [tmp_path / f"scheduler-{n}.log" for n in range(2)]
    procs = []
    for log in logs:
        with log.open("w") as sink:  # the child keeps its own copy of the descriptor
            procs.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=sink))
    try:
        pids = {p.pid for p in procs}
        _wait_for(lambda: _holder_pid(platform) in pids, 40)  # two processes boot
        leader_pid = _holder_pid(platform)
        assert leader_pid is not None

        def runners() -> set[str]:
            with platform.sessions() as s:
                return {r.details["holder"].split(":")[1] for r in s.scalars(select(JobRun))}

        _wait_for(lambda: bool(runners()), 20)
        assert runners() == {str(leader_pid)}  # only the leader ran jobs
        leader = next(p for p in procs if p.pid == leader_pid)
        other = next(p for p in procs if p.pid != leader_pid)
        leader.send_signal(signal.SIGKILL)
        leader.wait(5)
        _wait_for(lambda: _holder_pid(platform) == other.pid, 20)
        assert other.poll() is None
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        stuck = []
        for p, log in zip(procs, logs, strict=True):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)  # reaped here, not left to a later test's collector
                stuck.append(f"pid {p.pid}:\n" + "\n".join(log.read_text().splitlines()[-30:]))
        if stuck:
            pytest.fail("scheduler did not stop on SIGTERM; its log's end:\n" + "\n".join(stuck))
