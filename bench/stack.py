"""Benchmark of the production topology against the embedded mode (issue 14), side by side.

For each mode, 100 consoles (Socket.IO, logged-in operator sessions) are connected,
then signed voice webhooks arrive at a fixed rate (open loop, E-12b: latency counted
from each webhook's scheduled send time) and every ``alert_opened`` event is timed
at every console. Reported per mode:

- webhook answer p50/p99 (what the carrier waits for);
- webhook -> console p50/p99 over all (webhook, console) pairs;
- webhook -> *all* consoles p50/p99 (the last console to see each alert), the target
  being p99 < 100 ms at 50 webhooks/s;
- events missing at the end (must be 0);
- sustained webhooks per second: a closed loop of 32 senders for a few seconds.

Modes: the stack (``scripts/stack.py``: nginx, two app processes, PostgreSQL with its
synchronous standby, Redis, schedulers, fallback; production mode) and the embedded
mode (``tgd run`` on SQLite, one process, scheduler inside, demo data).

Usage: ``.venv/bin/python bench/stack.py [--rate 50] [--seconds 10] [--consoles 100]``.
"""

from __future__ import annotations

import argparse
import http.cookiejar as http_cookiejar
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import select
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    TIMERS,
    LightConsole,
    add_deflate_option,
    add_escalation_option,
    apply_deflate_option,
    apply_escalation_option,
    login,
    machine_figures,
    machine_ticks,
    percentile,
    python_speed,
    reading_delays,
    writer_counters,
    writer_figures,
)
from tests.browser.live import TOKEN, free_port, platform_env, prepare, running  # noqa: E402
from tests.stack.conftest import TGD, Console, create_operators, stack_module  # noqa: E402
from tgd.db.models import Alert  # noqa: E402
from tgd.db.session import make_engine  # noqa: E402

# An alert's first event, as python-socketio writes it (compact JSON, payload key first).
WINDOW = 10  # seconds: the tail is printed window by window
ALERT_OPENED = re.compile(r'"kind":"alert_opened","payload":\{"alert_id":(\d+)')


class Screens:
    """N consoles on one session cookie, each with its own routing cookie (spread by nginx).

    Light sockets (``LightConsole``): the arrival of each alert's ``alert_opened`` is read
    from the raw message, so that the bench's 100 consoles leave the cores to the stack.
    """

    def __init__(self, url: str, cookie: str, count: int) -> None:
        self.arrivals: dict[int, dict[int, float]] = {i: {} for i in range(count)}
        self.lock = threading.Lock()
        self.clients = []
        for i in range(count):

            def on_message(message: str, arrived: float, i: int = i) -> None:
                with self.lock:
                    for alert_id in ALERT_OPENED.findall(message):
                        self.arrivals[i].setdefault(int(alert_id), arrived)

            route = f"tgd_route={secrets.token_hex(8)}"
            self.clients.append(LightConsole(url, f"{cookie}; {route}", on_message))

    def close(self) -> None:
        for client in self.clients:
            client.close()


def carrier_session() -> requests.Session:
    """Kept-alive connections, but no cookie kept from one call to the next.

    Twilio keeps a call's cookies for that call only: every new call reaches nginx without
    a routing cookie, and is spread over the app processes. A session that kept nginx's
    cookie would send every webhook to the process of the first one.
    """
    http = requests.Session()
    http.cookies.set_policy(http_cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return http


def send_open_loop(
    url: str, token: str, rate: float, seconds: float
) -> dict[str, tuple[float, float]]:
    """Send signed voice webhooks on a schedule; return call id -> (scheduled, answer s)."""
    validator = RequestValidator(token)
    target = url + "/gateway/twilio/voice"
    count = int(rate * seconds)
    results: dict[str, tuple[float, float]] = {}
    retried: list[str] = []
    lock = threading.Lock()
    http = carrier_session()
    http.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=64))
    start = time.perf_counter() + 0.5

    def send(n: int) -> None:
        at = start + n / rate
        delay = at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sid = "CA" + secrets.token_hex(16)
        params = {"CallSid": sid, "From": f"+3362{n:07d}", "To": "+33199000000"}
        signature = validator.compute_signature(target, params)
        headers = {"X-Twilio-Signature": signature}
        try:
            response = http.post(target, data=params, headers=headers, timeout=15)
        except requests.ConnectionError:
            # A kept-alive connection closed by the server as it was reused: the webhook is
            # idempotent (its CallSid), so send it again, as a carrier would; counted.
            with lock:
                retried.append(sid)
            response = http.post(target, data=params, headers=headers, timeout=15)
        answered = time.perf_counter() - at
        assert response.status_code == 200 and "<Conference" in response.text, response.text[:200]
        with lock:
            results[sid] = (at, answered)

    with ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(send, range(count)))
    if retried:
        print(f"  {len(retried)} webhook(s) sent again after a closed connection", flush=True)
    return results


def saturation(url: str, token: str, seconds: float = 5, senders: int = 32) -> float:
    """Closed loop: how many webhooks per second the platform answers."""
    validator = RequestValidator(token)
    target = url + "/gateway/twilio/voice"
    done = 0
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal done
        http = carrier_session()
        while time.perf_counter() < end:
            params = {
                "CallSid": "CA" + secrets.token_hex(16),
                "From": "+33699999999",
                "To": "+33199000000",
            }
            signature = validator.compute_signature(target, params)
            response = http.post(
                target, data=params, headers={"X-Twilio-Signature": signature}, timeout=15
            )
            if response.status_code == 200:
                with lock:
                    done += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done / (time.perf_counter() - started)


def _windows(by_window: dict[int, list[float]]) -> str:
    """Each window's p99 (and max): where in the run the tail was (escalation from 10 s)."""
    return " | ".join(
        f"{percentile(v, 0.99):.0f} ({max(v):.0f})" for _, v in sorted(by_window.items())
    )


def measure(
    name: str,
    url: str,
    token: str,
    cookie: str,
    database_url: str,
    args: argparse.Namespace,
    apps: list[str],
) -> dict[str, float]:
    """One open loop with the consoles connected; ``apps`` are the app processes' URLs."""
    print(f"{name}: connecting {args.consoles} consoles…", flush=True)
    screens = Screens(url, cookie, args.consoles)
    time.sleep(2)
    print(f"  {python_speed()}", flush=True)
    started, counters = time.perf_counter(), [writer_counters(app) for app in apps]
    ticks = machine_ticks()
    sent = send_open_loop(url, token, args.rate, args.seconds)
    elapsed = time.perf_counter() - started
    print(f"  {machine_figures(ticks, machine_ticks())} during the open loop", flush=True)
    for app, before in zip(apps, counters, strict=True):
        print(f"  {app}: {writer_figures(before, writer_counters(app), elapsed)}", flush=True)
    time.sleep(3)  # the last events on their way
    screens.close()
    engine = make_engine(database_url, watch_writes=False)
    with engine.connect() as conn:
        ids = dict(
            conn.execute(
                select(Alert.call_sid, Alert.id).where(Alert.call_sid.in_(list(sent)))
            ).all()
        )
    engine.dispose()
    pairs: list[float] = []
    to_all: list[float] = []
    all_by_window: dict[int, list[float]] = {}
    answers_by_window: dict[int, list[float]] = {}
    missing = 0
    for sid, (at, answer) in sent.items():
        window = int((at - started) // WINDOW)
        answers_by_window.setdefault(window, []).append(answer * 1000)
        alert_id = ids.get(sid)
        seen = [screens.arrivals[i].get(alert_id) for i in screens.arrivals] if alert_id else []
        got = [t for t in seen if t is not None]
        missing += args.consoles - len(got)
        pairs += [(t - at) * 1000 for t in got]
        if len(got) == args.consoles:
            to_all.append((max(got) - at) * 1000)
            all_by_window.setdefault(window, []).append(to_all[-1])
    answers = [a * 1000 for _, a in sent.values()]
    print(f"  p99 by {WINDOW} s, answer: {_windows(answers_by_window)} ms", flush=True)
    print(f"  p99 by {WINDOW} s, all consoles: {_windows(all_by_window)} ms", flush=True)
    rate = saturation(url, token)
    figures = {
        "answer_p50": statistics.median(answers),
        "answer_p99": percentile(answers, 0.99),
        "pair_p50": statistics.median(pairs) if pairs else 0.0,
        "pair_p99": percentile(pairs, 0.99),
        "all_p50": statistics.median(to_all) if to_all else 0.0,
        "all_p99": percentile(to_all, 0.99),
        "missing": float(missing),
        "saturation": rate,
    }
    print(f"  done: {len(sent)} webhooks, {figures}", flush=True)
    return figures


def run_stack(args: argparse.Namespace) -> dict[str, float]:
    directory = Path(tempfile.mkdtemp(prefix="tgd-bench-stack-"))
    os.chmod(directory, 0o711)  # noqa: S103 - PostgreSQL's user must reach its data directory
    stack = stack_module.Stack(
        directory,
        stack_module.Ports.free(args.apps),
        tgd=TGD,
        extra_env={f"TGD_{k.upper()}": v for k, v in TIMERS.items()},
    )
    try:
        print(
            f"stack: starting (nginx, {args.apps} apps, PostgreSQL + standby, Redis, schedulers)…",
            flush=True,
        )
        stack.up()
        [(username, secret)] = create_operators(stack, 1).items()
        console = Console(stack.url, username, secret)
        console.login()
        cookie = "; ".join(
            f"{c.name}={c.value}" for c in console.http.cookies if c.name != "tgd_route"
        )
        apps = [f"http://127.0.0.1:{port}" for port in stack.ports.apps]
        return measure(
            "stack", stack.url, stack.auth_token(), cookie, stack.database_url(), args, apps
        )
    finally:
        stack.down()
        shutil.rmtree(directory, ignore_errors=True)


def run_embedded(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = platform_env(Path(tmp), port, **TIMERS)
        prepare(env)
        with running(env, port, Path(tmp) / "server.log") as live:
            cookie = login(live.url, timeout=30)
            return measure(
                "embedded", live.url, TOKEN, cookie, env["TGD_DATABASE_URL"], args, [live.url]
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--consoles", type=int, default=100)
    parser.add_argument("--only", choices=["stack", "embedded"], help="run one mode only")
    parser.add_argument("--apps", type=int, default=2, help="the stack's app processes")
    add_escalation_option(parser)
    add_deflate_option(parser)
    args = parser.parse_args()
    apply_escalation_option(args)
    apply_deflate_option(args)
    runs: list[tuple[str, Callable[[argparse.Namespace], dict[str, float]]]] = [
        (f"stack (nginx, {args.apps} apps, PostgreSQL+standby, Redis)", run_stack),
        ("embedded (SQLite, one process)", run_embedded),
    ]
    if args.only:
        runs = [(name, run) for name, run in runs if name.startswith(args.only)]
    results = [(name, run(args)) for name, run in runs]
    print(
        f"\n{args.consoles} consoles, {args.rate:.0f} webhooks/s for {args.seconds:.0f} s, "
        f"{os.cpu_count()} cores"
    )
    print(
        f"{'mode':<50} {'answer p50/p99':>16} {'->console p50/p99':>19} "
        f"{'->all p50/p99':>16} {'missing':>8} {'sustained/s':>12}"
    )
    for name, f in results:
        print(
            f"{name:<50} {f['answer_p50']:>7.1f}/{f['answer_p99']:<7.1f} "
            f"{f['pair_p50']:>9.1f}/{f['pair_p99']:<8.1f} "
            f"{f['all_p50']:>7.1f}/{f['all_p99']:<7.1f} "
            f"{f['missing']:>8.0f} {f['saturation']:>12.1f}"
        )
    print("(milliseconds; target: webhook -> all consoles p99 < 100 ms at 50/s)")
    print(reading_delays())


if __name__ == "__main__":
    main()
