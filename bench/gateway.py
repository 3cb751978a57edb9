"""Benchmark of the voice webhook (issue 4, E-12, E-12b): prints figures, is not a timed test.

Starts, on loopback, a live platform (``tgd run``, SQLite in WAL with
``synchronous=FULL``, demo data) and a bare Flask app returning fixed TwiML on
the same server kind (Werkzeug, threaded). Then:

1. open loop (E-12b): signed voice webhooks sent on a fixed schedule
   (``--rate`` per second for ``--seconds``), each with a new CallSid, from
   demo lines and unknown numbers; latency counted from the *scheduled* send
   time to the answer, which comes after the alert's commit (E-01);
2. the same schedule against the bare endpoint;
3. saturation: ``--workers`` closed-loop senders for a few seconds against each,
   reported as webhooks per second and as a ratio.

Usage: ``.venv/bin/python bench/gateway.py [--rate 50] [--seconds 20] [--workers 50]``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from twilio.request_validator import RequestValidator

TOKEN = "bench0123456789abcdef0123456789ab"  # noqa: S105 - a throwaway instance
LINES = ["+33612340001", "+33612340002", "+262692340001", "+508551001", "+33699999999"]
FIXED_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeout="60"><Conference beep="false" '
    'endConferenceOnExit="true" startConferenceOnEnter="true" waitUrl="">tgd-fixed</Conference>'
    "</Dial></Response>"
)


def bare_server(port: int) -> None:
    """Serve a bare Flask endpoint returning fixed TwiML (the baseline)."""
    from flask import Flask, Response
    from werkzeug.serving import run_simple

    app = Flask("bare")

    @app.post("/gateway/twilio/voice")
    def voice() -> Response:
        return Response(FIXED_TWIML, mimetype="text/xml")

    @app.get("/healthz")
    def health() -> str:
        return "ok"

    run_simple("127.0.0.1", port, app, threaded=True, use_reloader=False)


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(port: int) -> None:
    """Wait until the server on ``port`` answers /healthz."""
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not start")


class Sender:
    """Sends one signed voice webhook per call and times it."""

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
            response.read()
            return response.status
        finally:
            conn.close()


def open_loop(send: Callable[[], int], rate: float, seconds: float) -> tuple[list[float], int]:
    """Send at a fixed rate; latency from each scheduled send time (E-12b)."""
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    start = time.perf_counter() + 0.2

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
        with lock:
            latencies.append(elapsed)
            if status != 200:
                errors += 1

    with ThreadPoolExecutor(max_workers=max(64, int(rate * 2))) as pool:
        list(pool.map(one, range(total)))
    return latencies, errors


def closed_loop(send: Callable[[], int], workers: int, seconds: float) -> float:
    """Saturation throughput: ``workers`` senders as fast as they can."""
    stop = time.perf_counter() + seconds
    done = [0] * workers

    def worker(k: int) -> None:
        while time.perf_counter() < stop:
            if send() == 200:
                done[k] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(worker, range(workers)))
    return sum(done) / (time.perf_counter() - started)


def pct(values: list[float], p: float) -> float:
    """Return the p-th percentile in milliseconds."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--bare-server", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server is not None:
        bare_server(args.bare_server)
        return
    tgd = str(Path(sys.executable).parent / "tgd")
    with tempfile.TemporaryDirectory(prefix="tgd-bench-") as tmp:
        data = Path(tmp)
        port, bare_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TGD_")}
        env.update(
            TGD_DATA_DIR=str(data),
            TGD_DATABASE_URL=f"sqlite:///{data / 'tgd.db'}",
            TGD_TWILIO_AUTH_TOKEN=TOKEN,
            TGD_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            TGD_LOG_LEVEL="WARNING",
        )
        for command in (["db", "upgrade"], ["demo", "load"]):
            subprocess.run([tgd, *command], env=env, check=True, capture_output=True)
        log = (data / "server.log").open("wb")
        servers = [
            subprocess.Popen([tgd, "run", "--port", str(port)], env=env, stdout=log, stderr=log),
            subprocess.Popen(
                [sys.executable, __file__, "--bare-server", str(bare_port)], stdout=log, stderr=log
            ),
        ]
        try:
            wait_healthy(port)
            wait_healthy(bare_port)
            gateway, bare = Sender(port), Sender(bare_port)
            print(f"open loop: {args.rate:g} webhooks/s for {args.seconds:g} s, new CallSid each")
            results = {}
            for name, sender in (("gateway", gateway), ("bare", bare)):
                started = time.perf_counter()
                latencies, errors = open_loop(sender.send, args.rate, args.seconds)
                achieved = len(latencies) / (time.perf_counter() - started)
                results[name] = latencies
                print(
                    f"  {name:<8} n={len(latencies)} errors={errors} achieved={achieved:.1f}/s "
                    f"p50={pct(latencies, 50):.1f} ms p90={pct(latencies, 90):.1f} ms "
                    f"p99={pct(latencies, 99):.1f} ms max={1000 * max(latencies):.1f} ms "
                    f"mean={1000 * statistics.mean(latencies):.1f} ms"
                )
            gw, base = results["gateway"], results["bare"]
            print(
                f"  ratio gateway/bare: p50 {pct(gw, 50) / pct(base, 50):.2f}x, "
                f"p99 {pct(gw, 99) / pct(base, 99):.2f}x"
            )
            with sqlite3.connect(data / "tgd.db") as db:
                stored = db.execute("SELECT count(*) FROM alerts").fetchone()[0]
            db.close()
            print(f"  alerts committed: {stored} (sent {len(results['gateway'])})")
            print(f"saturation: {args.workers} closed-loop senders, 5 s each")
            sat_gateway = closed_loop(gateway.send, args.workers, 5)
            sat_bare = closed_loop(bare.send, args.workers, 5)
            print(
                f"  gateway {sat_gateway:.0f} webhooks/s, bare {sat_bare:.0f}/s, "
                f"ratio {sat_gateway / sat_bare:.2f}"
            )
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)
            log.close()
            errors = [ln for ln in (data / "server.log").read_text().splitlines() if "ERROR" in ln]
            if errors:
                print("server errors (last 5):", *errors[-5:], sep="\n  ")


if __name__ == "__main__":
    main()
