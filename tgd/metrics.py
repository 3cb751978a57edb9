"""Prometheus metrics: prometheus-client in multiprocess mode, plus figures read at scrape time.

Each ``tgd run`` is a gunicorn master and one worker; a worker restarted by the
master starts with fresh counters, so the counters live in memory-mapped files of
the process's own directory (``PROMETHEUS_MULTIPROC_DIR``, set by ``prepare`` in
the master before the fork, and wiped there: nothing stale from an earlier run is
summed in). Prometheus scrapes every app process on its own port; the reverse
proxy does not serve ``/metrics`` to the outside.

What the database knows (jobs' last success, service-level breaches, unclaimed
alerts, the scheduler lease) is read at scrape time in one short *reading*
transaction (``DatabaseCollector``), so it is the same whichever process ran the
job, and a scrape never writes. Labels are codes, never personal data.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram

ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
log = logging.getLogger(__name__)

# Webhooks answer in milliseconds (E-12); Twilio gives 15 s in all.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)


def prepare(directory: Path) -> Path:
    """Give this process (and the workers it forks) a fresh multiprocess directory.

    Called by ``tgd run`` in the gunicorn master before anything imports
    prometheus-client, which chooses its value store when first imported.
    """
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, mode=0o700)
    os.environ[ENV] = str(directory)
    return directory


def instance_dir(base: Path, name: str) -> Path:
    """Return one process's own metrics directory under the host's ``metrics_dir``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return base / safe


@dataclass(frozen=True)
class Metrics:
    """The process's metrics, made on first use (after ``prepare``)."""

    alerts_received: Counter
    alerts_replayed: Counter
    webhook_latency: Histogram
    console_connections: Gauge
    console_frames_waited: Counter
    console_sockets_shut: Counter
    redis_degraded: Gauge


_lock = threading.Lock()
_metrics: Metrics | None = None


def metrics() -> Metrics:
    """Return the process's metrics (created once, in the worker that uses them)."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = _create()
    return _metrics


def _create() -> Metrics:
    from prometheus_client import Counter, Gauge, Histogram

    return Metrics(
        alerts_received=Counter(
            "tgd_alerts_received",
            "Voice webhooks received, by kind of call and outcome (recorded; deferred: "
            "answered without the database and kept in the spool).",
            ["kind", "outcome"],
        ),
        alerts_replayed=Counter(
            "tgd_alerts_replayed",
            "Deferred calls recorded from the spool once the database took writes again.",
            ["source"],
        ),
        webhook_latency=Histogram(
            "tgd_webhook_duration_seconds",
            "Time to answer a carrier webhook or terminal request, by route and status.",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
        ),
        console_connections=Gauge(
            "tgd_console_connections",
            "Console sockets connected to this app process.",
            multiprocess_mode="livesum",
        ),
        console_frames_waited=Counter(
            "tgd_console_frames_waited",
            "Console frames a socket could not take at once: they waited, in order, for "
            "that socket's own writer (a console reading slowly).",
        ),
        console_sockets_shut=Counter(
            "tgd_console_sockets_shut",
            "Console sockets shut because their console stopped reading (too much "
            "waiting) or their connection failed while sending; the console catches up "
            "when it reconnects.",
        ),
        redis_degraded=Gauge(
            "tgd_console_redis_degraded",
            "1 while the Redis message queue is unreachable and consoles are fed from the "
            "database.",
            multiprocess_mode="livemax",
        ),
    )


def worker_exited(pid: int) -> None:
    """Forget a dead worker's live gauges (gunicorn ``child_exit``)."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def render(*extra: Any) -> bytes:
    """Return the Prometheus text of this process (all its workers) and of ``extra``."""
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    directory = os.environ.get(ENV)
    if directory:
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:  # a process without the multiprocess directory (tests): its own registry
        registry.register(_Forward(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return bytes(generate_latest(registry))


class _Forward:
    """Expose another registry's samples (the in-memory default one)."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        yield from self.registry.collect()


class DatabaseCollector:
    """Figures the database knows, read at scrape time in one reading transaction."""

    def __init__(self, platform: Any, *, stale_after: float = 60.0) -> None:
        self.platform = platform
        self.stale_after = stale_after

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from tgd.db.models import Alert
        from tgd.db.models.operations import JobRun, SchedulerLease, ServiceLevelBreach
        from tgd.db.session import read_transaction
        from tgd.domain.alerts import AlertState
        from tgd.jobs.registry import JOBS
        from tgd.jobs.runner import ERROR, OK

        up = GaugeMetricFamily("tgd_database_up", "1 when the database answered this scrape.")
        try:
            with read_transaction(self.platform.sessions) as session:
                last_ok = dict(
                    session.execute(
                        select(JobRun.job, func.max(JobRun.finished_at))
                        .where(JobRun.outcome == OK)
                        .group_by(JobRun.job)
                    ).all()
                )
                last_error = dict(
                    session.execute(
                        select(JobRun.job, func.max(JobRun.finished_at))
                        .where(JobRun.outcome == ERROR)
                        .group_by(JobRun.job)
                    ).all()
                )
                breaches = session.execute(
                    select(
                        ServiceLevelBreach.kind,
                        func.count(),
                        func.count().filter(ServiceLevelBreach.ended_at.is_(None)),
                    ).group_by(ServiceLevelBreach.kind)
                ).all()
                unclaimed = session.scalar(
                    select(func.count())
                    .select_from(Alert)
                    .where(Alert.state == AlertState.RINGING, Alert.is_canary.is_(False))
                )
                lease = session.get(SchedulerLease, "scheduler")
                lease_until = lease.expires_at if lease is not None else None
        except Exception as exc:  # the scrape still answers: the database is down
            log.warning("metrics: database unreachable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        success = GaugeMetricFamily(
            "tgd_job_last_success_timestamp_seconds",
            "When each scheduled job last succeeded (Unix time; 0: never).",
            labels=["job"],
        )
        failure = GaugeMetricFamily(
            "tgd_job_last_failure_timestamp_seconds",
            "When each scheduled job last failed (Unix time; 0: never).",
            labels=["job"],
        )
        for name in JOBS:
            success.add_metric([name], _timestamp(last_ok.get(name)))
            failure.add_metric([name], _timestamp(last_error.get(name)))
        yield success
        yield failure

        total = CounterMetricFamily(
            "tgd_service_level_breaches",
            "Service-level clocks that ran out (R-32), by kind, since the start of records.",
            labels=["kind"],
        )
        running = GaugeMetricFamily(
            "tgd_service_level_breaches_running",
            "Breaches whose subject is still not done, by kind.",
            labels=["kind"],
        )
        for kind, count, still_running in breaches:
            total.add_metric([kind], count)
            running.add_metric([kind], still_running)
        yield total
        yield running

        yield GaugeMetricFamily(
            "tgd_alerts_unclaimed", "Alerts ringing, not yet claimed.", value=unclaimed or 0
        )
        remaining = (lease_until.timestamp() - time.time()) if lease_until is not None else -1.0
        yield GaugeMetricFamily(
            "tgd_scheduler_lease_remaining_seconds",
            "Seconds before the scheduler leader's lease expires (negative: nobody leads).",
            value=remaining,
        )


class SpoolCollector:
    """Calls answered without the database and still waiting to be recorded."""

    def __init__(self, spool: Any) -> None:
        self.spool = spool

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        yield GaugeMetricFamily(
            "tgd_spool_pending",
            "Calls answered while the database took no writes, not yet recorded.",
            value=self.spool.pending(),
        )


class WriteGateCollector:
    """This process's write-gate counters (``tgd.db.writes``)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        from tgd.db.writes import gate_for

        stats = gate_for(self.engine).stats
        yield from _counters(
            "tgd_write_gate",
            ("acquired", stats.acquired, "Write transactions begun through the gate."),
            ("timeouts", stats.timeouts, "Writers that got no slot in time."),
            ("slow_holds", stats.slow_holds, "Write transactions held longer than 50 ms."),
            ("violations", stats.violations, "Breaches of the write discipline."),
            (
                "process_wait_seconds",
                stats.process_wait_seconds,
                "Time writers waited for a writer of another process (SQLite's file lock).",
            ),
        )
        yield from _by_label(
            "tgd_write_gate_hold",
            "Time the write gate was held, by writer (its share of the time: rate).",
            "holder",
            dict(stats.holds),  # copies: writers add keys while this reads
            dict(stats.hold_seconds),
        )
        yield from _by_label(
            "tgd_write_gate_wait",
            "Time writers waited for the write gate, by priority.",
            "priority",
            {p.name.lower(): n for p, n in dict(stats.waits).items()},
            {p.name.lower(): s for p, s in dict(stats.wait_seconds).items()},
        )


class GatewayWriterCollector:
    """The gateway writer's counters (``handset_gateway.db.WriterStats``), read at scrape."""

    def __init__(self, stats: Callable[[], Any]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Any]:
        stats = self.stats()
        yield from _counters(
            "tgd_gateway",
            ("units", stats.units, "Gateway units written (calls, callbacks, positions)."),
            ("batches", stats.batches, "Gateway batches (one transaction, one commit each)."),
            ("units_dropped", stats.dropped, "Gateway units never started: their request gave up."),
            (
                "batches_yielded",
                stats.yielded,
                "Gateway batches committed early to let an incoming call in.",
            ),
            (
                "calls_written_here",
                stats.calls_here,
                "Incoming calls written by their own request's thread, the writer idle.",
            ),
            (
                "queue_seconds",
                stats.queue_seconds,
                "Time units waited for their batch to start, summed.",
            ),
            (
                "batch_seconds",
                stats.batch_seconds,
                "Time the gateway writer spent in batches (its rate: how busy it is).",
            ),
            (
                "batch_cpu_seconds",
                stats.batch_cpu_seconds,
                "CPU of the gateway writer's thread in its batches.",
            ),
        )


class CallsFirstCollector:
    """How much other work stepped aside for incoming calls (``tgd.calls_first``)."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Any]:
        stats = self.stats
        yield from _counters(
            "tgd_calls_first",
            ("calls", stats.calls, "Incoming calls taken by this process's voice webhook."),
            ("waits", stats.waits, "Times other work stepped aside for calls being taken."),
            ("wait_seconds", stats.wait_seconds, "Time other work stepped aside, summed."),
            ("timeouts", stats.timeouts, "Times other work stopped waiting after the bound."),
        )


class WebhookTurnsCollector:
    """How the gateway's other webhooks took turns for their Python (``handset_gateway.turns``)."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Any]:
        stats = self.stats
        yield from _counters(
            "tgd_gateway_turns",
            ("taken", stats.turns, "Status callbacks, SMS and positions that asked for a turn."),
            ("waits", stats.waits, "Of them, those that waited for the turn."),
            ("wait_seconds", stats.wait_seconds, "Time waited for a turn, summed."),
            ("timeouts", stats.timeouts, "Webhooks that went ahead without a turn at the bound."),
        )


def _counters(prefix: str, *rows: tuple[str, float, str]) -> Iterator[Any]:
    """One counter per (name, value, help) row, named ``<prefix>_<name>``."""
    from prometheus_client.core import CounterMetricFamily

    for name, value, help_text in rows:
        yield CounterMetricFamily(f"{prefix}_{name}", help_text, value=value)


def _by_label(
    name: str, help_text: str, label: str, counts: dict[str, int], seconds: dict[str, float]
) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily

    count = CounterMetricFamily(f"{name}s", help_text, labels=[label])
    total = CounterMetricFamily(f"{name}_seconds", help_text, labels=[label])
    for key in sorted(counts):
        count.add_metric([key], counts[key])
        total.add_metric([key], seconds.get(key, 0.0))
    yield count
    yield total


def _timestamp(value: Any) -> float:
    return float(value.timestamp()) if value is not None else 0.0
