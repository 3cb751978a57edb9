"""Failure drills against the production topology (issue 14, EN 50518): nothing lost, none twice.

In order, on one stack: kill -9 an app process during a burst; restart PostgreSQL
during traffic; kill Redis; kill the scheduler leader; a timed backup and restore;
last, promote the standby during a burst (the old primary never comes back).

Every drill sends signed voice webhooks through nginx as Twilio does (the Fallback
URL when the platform fails) and then requires that every caller was bridged, that
every call became exactly one alert once the database took writes, and that every
console saw every alert (live, or by catching up after a reconnection).
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from tgd.db.models import Alert

from .conftest import LOGINS_PER_MINUTE, Answer, Console, StackDriver, create_operators

CONSOLES = 6  # logged-in operators, spread over the two app processes by nginx


def _check_burst(driver: StackDriver, answers: list[Answer], expected: int) -> dict[str, int]:
    """Every caller bridged; every call one alert; return call id -> alert id."""
    assert len(answers) == expected
    unbridged = [a for a in answers if not a.bridged]
    assert not unbridged, f"{len(unbridged)} caller(s) not bridged, e.g. {unbridged[:2]}"
    assert max(a.seconds for a in answers) < 15, "an answer came after Twilio's 15 s"
    sids = {a.call_sid for a in answers}
    found = driver.wait_recorded(sids)
    twice = {sid: ids for sid, ids in found.items() if len(ids) != 1}
    assert not twice, f"calls recorded more than once: {twice}"
    with driver.engine.connect() as conn:  # and no stray alert under another id
        total = conn.scalar(select(func.count()).where(Alert.call_sid.in_(sorted(sids))))
    assert total == len(sids)
    return {sid: ids[0] for sid, ids in found.items()}


@pytest.fixture(scope="module")
def consoles(driver: StackDriver) -> list[Console]:
    """Operators' consoles through nginx, on both app processes."""
    secrets = create_operators(driver.stack, CONSOLES * 2)
    accounts = iter(sorted(secrets.items()))
    for username, secret in accounts:
        console = Console(driver.stack.url, username, secret)
        console.login()
        console.connect()
        driver.consoles.append(console)
        counts = _wait_counts(driver, len(driver.consoles))
        if len(driver.consoles) >= CONSOLES and min(counts.values()) >= 2:
            break
    counts = driver.console_counts()
    assert min(counts.values()) >= 1, f"consoles not spread over the processes: {counts}"
    return driver.consoles


def _wait_counts(driver: StackDriver, total: int) -> dict[int, int]:
    deadline = time.monotonic() + 30
    counts = driver.console_counts()
    while sum(counts.values()) < total and time.monotonic() < deadline:
        time.sleep(0.3)
        counts = driver.console_counts()
    return counts


def test_the_login_throttle_counts_across_the_app_processes(driver: StackDriver) -> None:
    """Flask-Limiter's counters live in Redis: N tries a minute per address, all processes."""
    forwarded = {"X-Forwarded-For": "198.51.100.77"}  # believed: from the trusted proxy address
    sessions = []
    for port in driver.app_ports():
        http = requests.Session()
        base = f"http://127.0.0.1:{port}"
        page = http.get(base + "/connexion", headers=forwarded, timeout=30).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token
        sessions.append((http, base, token.group(1)))
    statuses = []
    started = time.monotonic()
    for attempt in range(LOGINS_PER_MINUTE + 1):  # alternately on each process
        http, base, token = sessions[attempt % len(sessions)]
        response = http.post(
            base + "/connexion",
            data={"csrf_token": token, "username": "nobody", "password": "x" * 12},
            headers=forwarded,
            allow_redirects=False,
            timeout=30,
        )
        statuses.append(response.status_code)
    for http, _, _ in sessions:
        http.close()
    assert time.monotonic() - started < 55, "too slow to stay in one window: inconclusive"
    assert statuses == [401] * LOGINS_PER_MINUTE + [429]


def test_webhooks_from_one_carrier_address_spread_over_the_app_processes(
    driver: StackDriver,
) -> None:
    # The carrier calls from a few addresses and its webhooks need no stickiness: hashed by
    # client address, a whole burst would land on one process while the other idles.
    before = driver.voice_webhooks_answered()
    answers = driver.carrier.burst("spread", rate=20, seconds=2)
    assert all(a.via == "platform" and a.bridged for a in answers)
    after = driver.voice_webhooks_answered()
    served = {port: after[port] - before.get(port, 0) for port in after}
    assert sum(served.values()) == 40
    assert min(served.values()) >= 5, f"one process took the burst: {served}"


def test_kill_9_of_an_app_process_during_a_burst_loses_nothing(
    driver: StackDriver, consoles: list[Console]
) -> None:
    before = driver.console_counts()
    victim_port = max(before, key=lambda port: before[port])  # the one with more consoles
    name = f"app{driver.app_ports().index(victim_port) + 1}"
    victim_pid = driver.state.services[name].pid
    disconnects = {c.username: c.disconnects for c in consoles}

    def kill() -> None:
        time.sleep(3)  # mid-burst
        driver.kill_group(victim_pid)  # gunicorn's master and worker at once

    answers = driver.carrier.burst("kill9", rate=10, seconds=10, during=kill)
    recorded = _check_burst(driver, answers, 100)
    assert {a.via for a in answers} <= {"platform", "fallback"}
    driver.wait_consoles_saw(set(recorded.values()), consoles)
    dropped = [c for c in consoles if c.disconnects > disconnects[c.username]]
    kept = [c for c in consoles if c.disconnects == disconnects[c.username]]
    # The killed process's consoles reconnected (to the other process) and caught up;
    # the other process's consoles kept receiving without a break.
    assert len(dropped) == before[victim_port], (before, [c.username for c in dropped])
    assert kept and all(c.connects == 1 for c in kept)
    assert all(c.connects >= 2 for c in dropped)
    # The supervisor brought the process back.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = driver.state.services[name]
        if state.pid != victim_pid and state.restarts >= 1:
            try:
                if requests.get(f"http://127.0.0.1:{victim_port}/healthz", timeout=3).ok:
                    break
            except requests.RequestException:
                pass
        time.sleep(1)
    else:
        raise AssertionError(f"{name} was not restarted")


def test_postgresql_restart_during_traffic_loses_nothing(
    driver: StackDriver, consoles: list[Console]
) -> None:
    def restart() -> None:
        time.sleep(3)
        driver.stack.pg_ctl("primary", "restart", mode="fast")

    answers = driver.carrier.burst("pgrestart", rate=10, seconds=12, during=restart)
    recorded = _check_burst(driver, answers, 120)
    driver.wait_consoles_saw(set(recorded.values()), consoles)
    driver.wait_ready()


def test_redis_loss_degrades_consoles_to_catch_up_and_loses_nothing(
    driver: StackDriver, consoles: list[Console]
) -> None:
    state = driver.state
    subprocess.run(["kill", "-9", str(state.redis_pid)], check=True)
    try:
        answers = driver.carrier.burst("noredis", rate=5, seconds=10)
        recorded = _check_burst(driver, answers, 50)
        # Every console, on either process, still gets every alert: fed from the database.
        driver.wait_consoles_saw(set(recorded.values()), consoles)
        ready = requests.get(driver.stack.url + "/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["checks"]["redis"] == "unreachable"
        metrics = requests.get(f"http://127.0.0.1:{driver.app_ports()[0]}/metrics", timeout=10)
        assert "tgd_console_redis_degraded 1.0" in metrics.text
    finally:
        driver.stack.start_redis()
    driver.wait_ready()
    answers = driver.carrier.burst("redisback", rate=5, seconds=4)
    recorded = _check_burst(driver, answers, 20)
    driver.wait_consoles_saw(set(recorded.values()), consoles)


def test_a_standby_scheduler_takes_over_within_the_lease(driver: StackDriver) -> None:
    holder = driver.lease_holder()
    assert holder is not None
    pid = int(holder.split(":")[1])
    names = {s.pid: n for n, s in driver.state.services.items() if n.startswith("scheduler")}
    assert pid in names, (holder, names)
    killed_at = time.monotonic()
    driver.kill_group(pid)
    deadline = killed_at + driver.stack.lease_seconds + 20  # the lease, plus a heartbeat
    new = None
    while time.monotonic() < deadline:
        new = driver.lease_holder()
        if new is not None and new != holder:
            break
        time.sleep(0.2)
    took = time.monotonic() - killed_at
    assert new is not None and new != holder, "no scheduler took the lease over"
    assert int(new.split(":")[1]) != pid
    # The lease expires at most `lease` after the leader's last renewal; a standby tries
    # every third of it. The margin is for a loaded 2-core machine.
    limit = driver.stack.lease_seconds * 4 / 3 + 5
    print(f"\nscheduler takeover after {took:.1f} s (lease {driver.stack.lease_seconds} s)")
    assert took < limit, f"takeover after {took:.1f} s, more than {limit:.1f} s"
    # Escalation is a leader duty: an alert left unclaimed still escalates.
    answers = driver.carrier.burst("leader", rate=2, seconds=1)
    sid = _check_burst(driver, answers, 2)
    deadline = time.monotonic() + 60
    escalated = 0
    while time.monotonic() < deadline and escalated < 2:
        with driver.engine.connect() as conn:
            escalated = int(
                conn.scalar(
                    select(func.count()).where(
                        Alert.call_sid.in_(sorted(sid)), Alert.escalated_at.is_not(None)
                    )
                )
                or 0
            )
        time.sleep(1)
    assert escalated == 2


def test_backup_and_restore_drill_is_timed(driver: StackDriver, tmp_path: Any) -> None:
    stack = driver.stack
    env = stack.env()
    out = tmp_path / "backup"
    started = time.monotonic()
    done = subprocess.run(
        [stack.tgd, "backup", str(out)], env=env, capture_output=True, text=True, timeout=600
    )
    backup_seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    with driver.engine.connect() as conn:
        alerts = conn.scalar(select(func.count()).select_from(Alert))
    # Restore into a scratch database of the same server (the live one keeps serving).
    stack._psql("primary", "CREATE DATABASE tgd_restore OWNER tgd", database="postgres")
    scratch = stack.database_url().replace("/tgd?", "/tgd_restore?")
    restore_env = {k: v for k, v in env.items() if k != "TGD_DATABASE_URL_FILE"}
    restore_env["TGD_DATABASE_URL"] = scratch
    started = time.monotonic()
    restored = subprocess.run(
        [stack.tgd, "restore", str(out)],
        env=restore_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    restore_seconds = time.monotonic() - started
    assert restored.returncode == 0, restored.stdout + restored.stderr
    from tgd.db.session import make_engine

    engine = make_engine(scratch, watch_writes=False)
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Alert)) == alerts
    finally:
        engine.dispose()
    print(f"\nbackup {backup_seconds:.1f} s, restore {restore_seconds:.1f} s, {alerts} alerts")
    assert restore_seconds < 300


def test_promoting_the_standby_during_a_burst_loses_nothing(
    driver: StackDriver, consoles: list[Console]
) -> None:
    stack = driver.stack
    stack.sql("standby", "SELECT 1")
    promoted = threading.Event()

    def lose_the_primary() -> None:
        time.sleep(3)
        stack.pg_ctl("primary", "stop", mode="immediate")  # the machine is gone
        time.sleep(3)  # no primary at all for a while: callers go to the fallback path
        stack.pg_ctl("standby", "promote")
        promoted.set()

    answers = driver.carrier.burst("promote", rate=10, seconds=15, during=lose_the_primary)
    assert promoted.is_set()
    assert stack.sql("standby", "SELECT pg_is_in_recovery()") == "f"
    driver.engine.dispose()
    recorded = _check_burst(driver, answers, 150)
    driver.wait_consoles_saw(set(recorded.values()), consoles)
    driver.wait_ready()
    # The app's multi-host URL found the new primary by itself; a new call is recorded.
    answer = driver.carrier.call("CApromoted0000000000000000000001", "+33612349999")
    assert answer.via == "platform" and answer.bridged
    assert driver.alerts_by_sid({answer.call_sid})
    log = driver.logs()
    assert "ALERT NOT RECORDED" not in log


def test_no_caller_number_in_any_log_of_the_stack(driver: StackDriver) -> None:
    """E-11: every log of every process (JSON lines, nginx's too) after all the drills."""
    logs = driver.logs()
    assert driver.carrier.numbers
    leaked = [found for number in driver.carrier.numbers for found in _written(number, logs)]
    assert leaked == [], f"{len(leaked)} caller number(s) in the logs, e.g. {leaked[:3]}"
    assert '"level": "ERROR"' in logs  # JSON lines indeed (the drills caused errors)


def _written(number: str, logs: str) -> list[str]:
    """Where `number` is written in `logs`, in any of its forms, with what surrounds it.

    A form counts only between non-digits. The drills' call SIDs are padded with
    zeros: the 61st of a burst, CA<prefix>000061000…, holds 0610000000, the national
    form of the burst's first caller +33610000000. A plain substring test failed CI
    on it once (2026-12-02) when a drill logged that SID.
    """
    forms = (number, number[1:], "0" + number[3:])
    pattern = "|".join(rf"(?<![\d+]){re.escape(form)}(?!\d)" for form in forms)
    return [logs[max(0, m.start() - 60) : m.end() + 60] for m in re.finditer(pattern, logs)]
