"""Benchmark of the voice webhook in real conditions (issue 11, E-12, E-12b): prints figures.

Not a timed test. By default everything runs as in production: ``tgd run``
(gunicorn, one process) with its scheduler, its start-up catch-up and escalation
on (the bench's alerts pile up unclaimed, so they escalate at 10 s and overflow
at 30 s, dialling the in-process fake carrier), and ``--consoles`` logged-in
Socket.IO consoles connected, receiving every event. Then:

1. open loop (E-12b): signed voice webhooks sent on a fixed schedule
   (``--rate`` per second for ``--seconds``), each with a new CallSid, from demo
   lines and unknown numbers; latency counted from the *scheduled* send time to
   the answer, which comes after the alert's commit (E-01);
2. saturation: ``--workers`` closed-loop senders for ``--saturation-seconds``;
3. the same open loop and saturation against a bare Flask endpoint returning
   fixed TwiML, on the same server kind (gunicorn gthread, one worker), in the
   same run: the ratio says what the platform costs on top of the server;
4. the same open loop against that bare endpoint storing each webhook durably
   (one row committed before the answer, the run's database with the platform's
   durability settings): the tail any platform keeping E-01 pays on this disk.

``--scheduler process`` runs the scheduler (jobs, escalation, overflow dials) as
``tgd scheduler`` beside ``tgd run --no-scheduler``, as the multi-process mode does;
its CPU counts in the server's.

Run on SQLite (embedded mode), then on PostgreSQL (a throwaway server started
here, skipped with a message when it cannot start).

Usage: ``.venv/bin/python bench/gateway.py [--rate 50] [--seconds 60] [--consoles 50]``
(``make bench`` runs it with the defaults).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    LightConsole,
    add_deflate_option,
    apply_deflate_option,
    gate_counters,
    gate_figures,
    login,
    machine_figures,
    machine_ticks,
    percentile,
    python_speed,
    writer_counters,
    writer_figures,
)
from bench.console import start_postgres  # noqa: E402
from tests.browser.live import TGD, TOKEN, free_port, platform_env, prepare, running  # noqa: E402

LINES = ["+33612340001", "+33612340002", "+262692340001", "+508551001", "+33699999999"]
FIXED_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeout="60"><Conference beep="false" '
    'endConferenceOnExit="true" startConferenceOnEnter="true" waitUrl="">tgd-fixed</Conference>'
    "</Dial></Response>"
)


def bare_server(port: int) -> None:
    """Serve a bare Flask endpoint returning fixed TwiML, on tgd's own server kind."""
    from flask import Flask, Response

    app = Flask("bare")

    @app.post("/gateway/twilio/voice")
    def voice() -> Response:
        return Response(FIXED_TWIML, mimetype="text/xml")

    @app.get("/healthz")
    def health() -> str:
        return "ok"

    serve_on_gunicorn(port, lambda: app)


def durable_server(port: int, database_url: str) -> None:
    """Serve the bare endpoint storing each webhook durably before answering: E-01 alone.

    One row per webhook, committed before the answer, in the run's own kind of database
    with the platform's durability (SQLite: WAL, ``synchronous=FULL``, one writer at a
    time; PostgreSQL: ``synchronous_commit`` on, its default), and nothing else: no
    escalation, no console, no signature. Its tail is what any platform that keeps E-01
    pays on this machine's disk at that moment; the gateway's tail above it is the
    platform's own.
    """
    serve_on_gunicorn(port, lambda: _durable_app(database_url))


def _durable_app(database_url: str) -> Any:
    import sqlalchemy as sa
    from flask import Flask, Response, request

    sqlite = database_url.startswith("sqlite")
    engine = sa.create_engine(database_url, pool_size=8)
    if sqlite:

        @sa.event.listens_for(engine, "connect")
        def _durable(dbapi_connection: Any, _record: Any) -> None:
            for pragma in ("journal_mode=WAL", "synchronous=FULL"):
                dbapi_connection.execute(f"PRAGMA {pragma}")

    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS bench_durable_calls (call_sid VARCHAR(64) PRIMARY KEY)"
        )
    calls = sa.table("bench_durable_calls", sa.column("call_sid"))
    one_writer = threading.Lock() if sqlite else contextlib.nullcontext()
    app = Flask("durable")

    @app.post("/gateway/twilio/voice")
    def voice() -> Response:
        with one_writer, engine.begin() as conn:
            conn.execute(sa.insert(calls).values(call_sid=request.form["CallSid"]))
        return Response(FIXED_TWIML, mimetype="text/xml")

    @app.get("/healthz")
    def health() -> str:
        return "ok"

    return app


def carrier_server(port: int) -> None:
    """Serve the fake carrier on ``port``, playing its calls (callbacks to the platform).

    In production the carrier is a remote party: its REST API and the calls it plays
    cost the platform's process nothing, while the status callbacks it sends back do.
    Run here as a process of its own, the platform reaches it over HTTP with the real
    ``twilio`` client, as it reaches Twilio. Served by gunicorn, as Twilio's API keeps a
    client's connections alive between requests (HTTP/1.1); Werkzeug's server, which the
    tests' in-process fake uses, closes each one, and the platform then paid a new
    connection on every REST call of the overflow's dials.
    """
    from tgd.adapters.fake_twilio.api import CallProgress, FakeTwilio

    def app() -> Any:
        fake = FakeTwilio(auth_token=TOKEN)
        CallProgress(fake).start()  # in the worker process, beside the API it plays for
        return fake.app

    # As Twilio's API: the client's pooled connections stay open between dials.
    serve_on_gunicorn(port, app, keepalive=75)


def serve_on_gunicorn(port: int, make_app: Callable[[], Any], **options: Any) -> None:
    """Serve the WSGI app ``make_app()`` builds in the worker, on gunicorn gthread (tgd's kind)."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": [f"127.0.0.1:{port}"],
                "workers": 1,
                "worker_class": "gthread",
                "threads": 256,
                "accesslog": None,
                "control_socket_disable": True,
                "loglevel": "warning",
                **options,
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from tgd.server import tune_gc

            app = make_app()
            # The collector tuned as tgd run tunes it: the same server kind. Untuned, these
            # servers' full collections (the bench's imports, 150,000 objects) paused the
            # floor 124-161 ms in its minute (a gc.callbacks probe, 2026-12-05).
            tune_gc()
            return app

    Server().run()


def cpu_seconds(*pids: int) -> float:
    """CPU time (user + system) of processes ``pids`` and all their descendants, in seconds."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended meanwhile
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        times[child] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = set(pids), True
    while grew:
        found = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return sum(times.get(p, 0.0) for p in tree)


def wait_listening(port: int) -> None:
    """Wait until something accepts connections on ``port``."""
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


def wait_healthy(port: int) -> None:
    """Wait until the server on ``port`` answers /healthz."""
    for _ in range(600):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


class Sender:
    """Sends one signed voice webhook per call (a new connection each, as Twilio does)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.public = f"http://127.0.0.1:{port}"
        self.validator = RequestValidator(TOKEN)
        self.counter = 0
        self.lock = threading.Lock()

    def send(self) -> int:
        """Send one webhook with a new CallSid; return the HTTP status."""
        with self.lock:
            self.counter += 1
            n = self.counter
        params = {
            "CallSid": "CA" + secrets.token_hex(16),
            "From": LINES[n % len(LINES)],
            "To": "+33199000000",
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
        path = "/gateway/twilio/voice"
        signature = self.validator.compute_signature(self.public + path, params)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(
                "POST",
                path,
                body=urllib.parse.urlencode(params),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                },
            )
            response = conn.getresponse()
            body = response.read()
            if response.status == 200 and b"<Conference" not in body:
                return 299  # answered, but with the fallback: the alert was not recorded
            return response.status
        finally:
            conn.close()


class Loop(NamedTuple):
    """An open loop's latencies (in the order scheduled), errors, and first send's wall time."""

    latencies: list[float]
    errors: int
    wall_start: float


def quiet_collector() -> None:
    """Keep the bench's own garbage collection from pausing its senders (not the server's).

    The bench holds the consoles' sequence numbers and every loop's results; a collection
    of its oldest generation took 113–123 ms, at the start of an open loop. Collected now
    and frozen (``gc.freeze``: what exists is never scanned again), a later collection
    looks at the loop's own objects only.
    """
    gc.collect()
    gc.freeze()


def open_loop(send: Callable[[], int], rate: float, seconds: float) -> Loop:
    """Send at a fixed rate; latency from each scheduled send time (E-12b)."""
    total = int(rate * seconds)
    latencies: list[float] = [0.0] * total  # in the order they were scheduled
    errors = 0
    lock = threading.Lock()
    quiet_collector()
    start = time.perf_counter() + 0.2
    wall_start = time.time() + (start - time.perf_counter())

    def one(i: int) -> None:
        nonlocal errors
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            status = send()
        except OSError:
            status = 0
        elapsed = time.perf_counter() - scheduled
        latencies[i] = elapsed
        with lock:
            if status != 200:
                errors += 1

    with ThreadPoolExecutor(max_workers=max(64, int(rate * 2))) as pool:
        list(pool.map(one, range(total)))
    return Loop(latencies, errors, wall_start)


def closed_loop(send: Callable[[], int], workers: int, seconds: float) -> tuple[float, int]:
    """Saturation throughput: ``workers`` senders as fast as they can; (per second, errors)."""
    quiet_collector()
    stop = time.perf_counter() + seconds
    done = [0] * workers
    failed = [0] * workers

    def worker(k: int) -> None:
        while time.perf_counter() < stop:
            try:
                ok = send() == 200
            except OSError:
                ok = False
            done[k] += ok
            failed[k] += not ok

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(worker, range(workers)))
    return sum(done) / (time.perf_counter() - started), sum(failed)


def saturate(
    send: Callable[[], int], args: Any, pids: list[int], url: str | None
) -> tuple[float, int]:
    """One closed loop, with what bounded it: the cores, the server's CPU and its writer.

    ``url``: the platform's, whose gateway writer is read before and after (None: a bare
    server, which has none).
    """
    counters = writer_counters(url) if url else {}
    started, cpu, ticks = time.perf_counter(), cpu_seconds(*pids), machine_ticks()
    own = time.process_time()
    rate, failed = closed_loop(send, args.workers, args.saturation_seconds)
    seconds = time.perf_counter() - started
    server, sender = cpu_seconds(*pids) - cpu, time.process_time() - own
    print(
        f"  {'gateway' if url else 'bare':8} {machine_figures(ticks, machine_ticks())}; "
        f"server {server / seconds:.2f} of a core ({1000 * server / max(1.0, rate * seconds):.2f}"
        f" ms per webhook), the bench's senders {sender / seconds:.2f}"
    )
    if url:
        print("           " + writer_figures(counters, writer_counters(url), seconds))
    return rate, failed


def report_windows(latencies: list[float], rate: float, window: float = 10.0) -> None:
    """Print the tail of each 10 s of sending: escalation starts at 10 s, overflow at 30 s."""
    size = max(1, int(rate * window))
    parts = [latencies[i : i + size] for i in range(0, len(latencies), size)]
    tails = " | ".join(f"{pct(part, 99):.0f} ({1000 * max(part):.0f})" for part in parts)
    print(f"           p99 (max) by {window:g} s: {tails} ms")


def report_slowest(loop: Loop, rate: float, count: int = 8) -> None:
    """Print the slowest webhooks' scheduled send times, to find them in the server's log."""
    worst = sorted(range(len(loop.latencies)), key=loop.latencies.__getitem__)[-count:]

    def sent(i: int) -> str:
        return datetime.fromtimestamp(loop.wall_start + i / rate).strftime("%H:%M:%S.%f")[:-3]

    stamps = ", ".join(f"{1000 * loop.latencies[i]:.0f} ms at {sent(i)}" for i in sorted(worst))
    print(f"           slowest: {stamps}")


def pct(values: list[float], p: float) -> float:
    """Return the p-th percentile in milliseconds."""
    return 1000 * percentile(values, p / 100)


def connect_consoles(url: str, cookie: str, count: int) -> list[LightConsole]:
    """Connect ``count`` consoles that receive every event (``LightConsole``)."""
    return [LightConsole(url, cookie) for _ in range(count)]


def report(name: str, latencies: list[float], errors: int, seconds: float) -> None:
    achieved = len(latencies) / seconds
    print(
        f"  {name:<8} n={len(latencies)} errors={errors} achieved={achieved:.1f}/s "
        f"p50={pct(latencies, 50):.1f} ms p90={pct(latencies, 90):.1f} ms "
        f"p99={pct(latencies, 99):.1f} ms max={1000 * max(latencies):.1f} ms "
        f"mean={1000 * statistics.mean(latencies):.1f} ms"
    )


def spawn(mode: str, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """Start this script in one of its hidden server modes on ``port``."""
    return subprocess.Popen(
        [sys.executable, __file__, f"--{mode}", str(port), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def report_console_gaps(clients: list[Any], first_seq: int) -> None:
    """Print how many of the run's console events never reached each console (E-02).

    The last event any console has seen is taken as published; three seconds later every
    console should have it and all those before it. A console that misses one would have
    to ask again (``resume``): the push lost it.
    """
    last_seq = max((max(c.seqs, default=0) for c in clients), default=0)
    time.sleep(3)
    missing = [c.missing(first_seq, last_seq) for c in clients]
    print(
        f"           console events {first_seq}..{last_seq}: missing {sum(missing)} "
        f"in all, {max(missing, default=0)} on the worst console"
    )


@contextmanager
def scheduler_process(env: dict[str, str], log: Path, wanted: bool) -> Iterator[list[int]]:
    """``tgd scheduler`` in a process of its own if ``wanted``: yields its pid, if any."""
    if not wanted:
        yield []
        return
    with log.open("wb") as out:
        process = subprocess.Popen(
            [TGD, "scheduler"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield [process.pid]
        finally:
            process.terminate()
            process.wait(timeout=30)


def measure(label: str, env: dict[str, str], port: int, data: Path, args: Any) -> None:
    """One run against the platform and the bare server, in real conditions."""
    bare_port, durable_port = free_port(), free_port()
    bare = spawn("bare-server", bare_port)
    durable_url = env["TGD_DATABASE_URL"]  # PostgreSQL: a table of its own in the same base
    if durable_url.startswith("sqlite"):
        durable_url = f"sqlite:///{data / 'durable.db'}"  # a file beside the platform's
    durable = spawn("durable-server", durable_port, durable_url)
    log = data / "server.log"
    apart = args.scheduler == "process"
    options = ("--no-scheduler",) if apart else ()
    try:
        with (
            running(env, port, log, *options) as live,
            scheduler_process(env, data / "scheduler.log", apart) as scheduler,
        ):
            wait_healthy(bare_port)
            wait_healthy(durable_port)
            time.sleep(args.warmup)  # the scheduler's start-up catch-up runs first
            clients = connect_consoles(live.url, login(live.url), args.consoles)
            gateway, baseline, stored = Sender(port), Sender(bare_port), Sender(durable_port)
            print(
                f"{label}: {os.cpu_count()} cores, scheduler and escalation on "
                f"({'in a process of its own' if apart else 'in the server'}), "
                f"{len(clients)} consoles connected"
            )
            print(f"open loop: {args.rate:g} webhooks/s for {args.seconds:g} s, new CallSid each")
            results: dict[str, Loop] = {}
            first_seq = 1 + max((max(c.seqs, default=0) for c in clients), default=0)
            for name, sender, pids in (
                ("gateway", gateway, [live.process.pid, *scheduler]),
                ("bare", baseline, [bare.pid]),
                ("durable", stored, [durable.pid]),
            ):
                print(f"           {python_speed()}, from {datetime.now():%H:%M:%S}")
                started, cpu = time.perf_counter(), cpu_seconds(*pids)
                counters = writer_counters(live.url) if name == "gateway" else {}
                gate = gate_counters(live.url) if name == "gateway" else {}
                ticks = machine_ticks()
                loop = open_loop(sender.send, args.rate, args.seconds)
                latencies, errors = loop.latencies, loop.errors
                report(name, latencies, errors, time.perf_counter() - started)
                print(f"           {machine_figures(ticks, machine_ticks())}")
                if counters:
                    print(
                        "           "
                        + writer_figures(
                            counters, writer_counters(live.url), time.perf_counter() - started
                        )
                    )
                    print(
                        "           "
                        + gate_figures(
                            gate,
                            gate_counters(live.url),
                            time.perf_counter() - started,
                            parallel=label.startswith("PostgreSQL"),
                        )
                    )
                report_windows(latencies, args.rate)
                report_slowest(loop, args.rate)
                results[name] = loop
                time.sleep(2)  # the carrier's callbacks of the last calls come in
                per_webhook = 1000 * (cpu_seconds(*pids) - cpu) / len(latencies)
                print(f"           server CPU {per_webhook:.1f} ms per webhook, all included")
                if name == "gateway":
                    report_console_gaps(clients, first_seq)
            gw, base, floor = (results[n].latencies for n in ("gateway", "bare", "durable"))
            print(
                f"  ratio gateway/bare: p50 {pct(gw, 50) / pct(base, 50):.2f}x, "
                f"p99 {pct(gw, 99) / pct(base, 99):.2f}x; console events received "
                f"{sum(c.events for c in clients)}"
            )
            print(
                f"  bare with one durable write per webhook (E-01's floor on this disk): "
                f"p99 {pct(floor, 99):.1f} ms, max {1000 * max(floor):.0f} ms"
            )
            print(f"saturation: {args.workers} closed-loop senders, {args.saturation_seconds:g} s")
            sat_gateway, gw_failed = saturate(
                gateway.send, args, [live.process.pid, *scheduler], live.url
            )
            sat_bare, _ = saturate(baseline.send, args, [bare.pid], None)
            print(
                f"  gateway {sat_gateway:.0f} webhooks/s ({gw_failed} not recorded or failed), "
                f"bare {sat_bare:.0f}/s, ratio {sat_gateway / sat_bare:.2f}"
            )
            for client in clients:
                client.close()
    finally:
        for server in (bare, durable):
            server.terminate()
            server.wait(timeout=10)
    text = log.read_text(errors="replace")
    if args.logs:  # the run's directory goes at the end: keep the server's log for reading
        kept = Path(args.logs) / f"{label.split(',')[0].lower()}-server.log"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, kept)
        print(f"  server log kept in {kept}")
    report_disk_stalls(results["gateway"], args.rate, text)
    lost = text.count("ALERT NOT RECORDED")
    slow = re.findall(
        r"held the .* write gate for (\d+) ms \(([^)]*)\)(?:; its thread ran (\d+) ms)?", text
    )
    print(f"  server log: {lost} alert(s) not recorded, {len(slow)} slow write transaction(s)")
    commits = [int(ms) for ms in re.findall(r"commit on .* took (\d+) ms", text)]
    if commits:  # E-01's sync to disk: the machine's part of the tail, not the process's
        print(f"    slow commits (the disk's sync): {len(commits)}, longest {max(commits)} ms")
    by_label: dict[str, list[tuple[int, str]]] = {}
    for ms, what, ran in slow:
        by_label.setdefault(what, []).append((int(ms), ran))
    for what, holds in sorted(by_label.items(), key=lambda kv: -len(kv[1]))[:6]:
        longest, ran = max(holds)
        line = f"    {what}: {len(holds)} over 50 ms, longest {longest} ms"
        if ran:  # the server logs what the holder's thread ran (since 2026-12-03)
            worked = 100 * sum(int(r or 0) for _, r in holds) / sum(ms for ms, _ in holds)
            line += f" (its thread ran {ran} ms of it); their threads ran {worked:.0f} % of them"
        print(line)


SLOW_COMMIT_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ [\w.]+: commit on .* took (\d+) ms", re.M
)


def report_disk_stalls(loop: Loop, rate: float, log: str) -> None:
    """Say how many webhooks were in flight during a slow sync of the disk, and the rest's tail.

    The server logs each commit over 50 ms (``tgd/db/session.py``) when it returns: SQLite's
    sync of its WAL, PostgreSQL's wait for the flush of its own (since 2026-12-05).
    A webhook whose time from its scheduled send to its answer overlaps one of those
    commits waited, at least in part, for the disk, as any durable store would (E-01).
    Conservative: a webhook sent just after a stall, queued behind its backlog, counts
    among the others.
    """
    stalls = []
    for stamp, ms in SLOW_COMMIT_LINE.findall(log):
        ended = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()  # local, as logged
        stalls.append((ended - int(ms) / 1000, ended))
    if not stalls:
        return
    met: list[float] = []
    others: list[float] = []
    for i, latency in enumerate(loop.latencies):
        sent = loop.wall_start + i / rate
        answered = sent + latency
        overlaps = any(begin < answered and sent < end for begin, end in stalls)
        (met if overlaps else others).append(latency)
    line = (
        f"  gateway webhooks in flight during one of the disk's {len(stalls)} slow syncs: "
        f"{len(met)} of {len(loop.latencies)}"
    )
    if met and others:
        line += (
            f" (their p99 {pct(met, 99):.1f} ms); the others: p50 {pct(others, 50):.1f} ms, "
            f"p99 {pct(others, 99):.1f} ms"
        )
    print(line)


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--saturation-seconds", type=float, default=10.0)
    parser.add_argument("--consoles", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--logs", default=None, help="keep each run's server log in this dir")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--carrier",
        choices=["external", "in-process"],
        default="external",
        help="the fake carrier as a process of its own (like Twilio, remote), or inside "
        "the platform's process (the embedded demo's setup)",
    )
    parser.add_argument(
        "--scheduler",
        choices=["embedded", "process"],
        default="embedded",
        help="the scheduler (jobs, escalation, overflow) inside tgd run, or as tgd scheduler",
    )
    add_deflate_option(parser)
    parser.add_argument("--bare-server", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--carrier-server", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--durable-server", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    apply_deflate_option(args)
    if args.bare_server is not None:
        bare_server(args.bare_server)
        return
    if args.durable_server is not None:
        durable_server(int(args.durable_server[0]), args.durable_server[1])
        return
    if args.carrier_server is not None:
        carrier_server(args.carrier_server)
        return
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    # The server logs at its production level (INFO: a line per alert opened, the jobs).
    extra = {"alerts_overflow_number": "+33600000099"}
    carrier = None
    if args.carrier == "external":
        carrier_port = free_port()
        carrier = spawn("carrier-server", carrier_port)
        extra["twilio_api_base_url"] = f"http://127.0.0.1:{carrier_port}"
        wait_listening(carrier_port)
    try:
        run_modes(args, extra)
    finally:
        if carrier is not None:
            print(f"carrier (own process): CPU {cpu_seconds(carrier.pid):.1f} s over the run")
            carrier.terminate()
            carrier.wait(timeout=10)


def run_modes(args: Any, extra: dict[str, str]) -> None:
    """Measure on SQLite, then on PostgreSQL."""
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory(prefix="tgd-bench-") as tmp:
            data, port = Path(tmp), free_port()
            env = platform_env(data, port, **extra)
            prepare(env)
            measure("SQLite, embedded mode", env, port, data, args)
    if args.skip_postgres:
        return
    with tempfile.TemporaryDirectory(prefix="tgd-bench-pg-") as tmp:
        data = Path(tmp)
        _, database_url = start_postgres(data)
        if database_url is None:
            print("PostgreSQL: skipped (the server could not be started)")
            return
        try:
            port = free_port()
            env = platform_env(data, port, database_url=database_url, **extra)
            prepare(env)
            measure("PostgreSQL, one process", env, port, data, args)
        finally:
            pgdir = (data / "pgdir").read_text()
            if args.logs:  # PostgreSQL's own log: its checkpoints, its autovacuum runs
                shutil.copyfile(Path(pgdir) / "server.log", Path(args.logs) / "postgres.log")
            subprocess.run(["bash", str(ROOT / "scripts/pg_server.sh"), "stop", pgdir], check=False)


if __name__ == "__main__":
    main()
