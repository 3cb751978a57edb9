"""Reliability against a real server process on loopback (issue 4): E-01, E-03, R-21.

One SQLite instance is migrated and loaded with the demo once per module;
each test copies it and runs ``tgd run`` on a free port with ``TGD_*``
variables, then sends signed webhooks as the carrier does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tgd.adapters.fake_twilio.carrier import Carrier

from .conftest import LINE_1, OVERFLOW_NUMBER

TGD = str(Path(sys.executable).parent / "tgd")
TOKEN = "srv0123456789abcdef0123456789ab"


def _env(directory: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGD_")}
    env.update(
        TGD_MODE="development",
        TGD_DATA_DIR=str(directory),
        TGD_DATABASE_URL=f"sqlite:///{directory / 'tgd.db'}",
        TGD_SECRET_KEY="server-test-secret-0123456789abcdef",
        TGD_MASTER_KEY_FILE=str(directory / "master.key"),
        TGD_TWILIO_AUTH_TOKEN=TOKEN,
        TGD_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        TGD_ALERTS_OVERFLOW_NUMBER=OVERFLOW_NUMBER,
        **extra,
    )
    return env


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Give a migrated instance with the demo loaded (made once, copied by each test)."""
    directory = tmp_path_factory.mktemp("instance")
    env = _env(directory, 0)
    for command in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run([TGD, *command], env=env, check=True, capture_output=True, timeout=120)
    return directory


class Server:
    """``tgd run`` in a subprocess, restartable."""

    def __init__(self, directory: Path, **extra: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        self.env = _env(directory, self.port, **extra)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = directory / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [TGD, "run", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: gunicorn's master and worker
            )
        deadline = time.monotonic() + 90  # gunicorn boots its worker; a loaded CI is slow
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("server did not start:\n" + self.log.read_text())

    def kill(self) -> None:
        """SIGKILL the whole server at once (master and worker), as a power cut would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def carrier(self) -> Carrier:
        return Carrier(platform_url=self.url, public_base_url=self.url, auth_token=TOKEN)

    def alerts(self, call_sid: str) -> list[tuple[int, str | None]]:
        with sqlite3.connect(self.directory / "tgd.db") as db:
            rows = db.execute(
                "SELECT id, reference FROM alerts WHERE call_sid = ?", (call_sid,)
            ).fetchall()
        db.close()
        return rows

    def events(self, kind: str) -> list[str]:
        with sqlite3.connect(self.directory / "tgd.db") as db:
            rows = db.execute(
                "SELECT payload FROM console_events WHERE kind = ?", (kind,)
            ).fetchall()
        db.close()
        return [r[0] for r in rows]


@pytest.fixture
def instance(prepared: Path, tmp_path: Path) -> Path:
    """Give a fresh copy of the prepared instance."""
    target = tmp_path / "instance"
    shutil.copytree(prepared, target)
    return target


@pytest.fixture
def server(instance: Path) -> Iterator[Server]:
    """Give a running server on a copy of the demo instance."""
    running = Server(instance).start()
    yield running
    running.stop()


def test_same_webhook_twice_and_fifty_times_concurrently_makes_one_alert(server: Server) -> None:
    carrier = server.carrier()
    _, first = carrier.incoming_call(from_=LINE_1, to="+33199000000", call_sid="CAtwice")
    _, second = carrier.incoming_call(from_=LINE_1, to="+33199000000", call_sid="CAtwice")
    assert first.status == second.status == 200 and first.body == second.body
    assert len(server.alerts("CAtwice")) == 1

    def deliver(_: int) -> tuple[int, str]:
        _, answer = carrier.incoming_call(from_=LINE_1, to="+33199000000", call_sid="CAfifty")
        return answer.status, answer.body

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(deliver, range(50)))
    assert {status for status, _ in answers} == {200}
    assert len({body for _, body in answers}) == 1  # every delivery got the first answer
    assert "<Conference" in answers[0][1]
    assert server.alerts("CAfifty") == [(server.alerts("CAfifty")[0][0], "M 75 75056 01 1")]


def test_alert_survives_sigkill_right_after_the_answer(server: Server) -> None:
    _, answer = server.carrier().incoming_call(from_=LINE_1, to="+33199000000", call_sid="CAkilled")
    server.kill()  # E-01: committed before the answer, so nothing may be lost now
    assert answer.status == 200 and "<Conference" in answer.body
    server.start()
    [(alert_id, reference)] = server.alerts("CAkilled")
    assert reference == "M 75 75056 01 1"
    assert any(f'"alert_id": {alert_id},' in payload for payload in server.events("alert_opened"))
    _, again = server.carrier().incoming_call(from_=LINE_1, to="+33199000000", call_sid="CAkilled")
    assert again.body == answer.body  # the replay after restart returns the first answer


def test_locked_database_still_bridges_the_caller_and_logs_loudly(instance: Path) -> None:
    server = Server(instance, TGD_GATEWAY_RECORD_TIMEOUT_MS="300").start()
    try:
        locker = sqlite3.connect(instance / "tgd.db", isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            started = time.monotonic()
            _, answer = server.carrier().incoming_call(
                from_=LINE_1, to="+33199000000", call_sid="CAlocked"
            )
            elapsed = time.monotonic() - started
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert answer.status == 200
        assert f"<Number>{OVERFLOW_NUMBER}</Number>" in answer.body  # bridged to the fallback
        assert elapsed < 5  # well inside Twilio's 15 s
        log = server.log.read_text()
        assert "deferred to the spool" in log and "ALERT NOT RECORDED" not in log
        assert LINE_1 not in log and "12340001" not in log  # no number in the logs (E-11)
        # once the lock is gone, the deferred call is recorded from the spool, once.
        deadline = time.monotonic() + 60
        while not server.alerts("CAlocked") and time.monotonic() < deadline:
            time.sleep(0.2)
        [(_, reference)] = server.alerts("CAlocked")
        assert reference == "M 75 75056 01 1"
        # Once the lock is gone, the next call is recorded as usual.
        _, after = server.carrier().incoming_call(
            from_=LINE_1, to="+33199000000", call_sid="CAafter"
        )
        assert "<Conference" in after.body and len(server.alerts("CAafter")) == 1
    finally:
        server.stop()


def _tgd(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TGD, *args, "--url", server.url],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_simulator_drives_the_whole_chain(server: Server) -> None:
    alert = _tgd(server, "simulate", "alert", "--line", "M 75 75056 01 1")
    assert alert.returncode == 0, alert.stderr
    call_sid = alert.stdout.split()[1]
    [(alert_id, reference)] = server.alerts(call_sid)
    assert reference == "M 75 75056 01 1" and "appelant dans le pont" in alert.stdout
    for fmt in ("aml", "simple", "https"):
        position = _tgd(
            server,
            "simulate",
            "position",
            "--line",
            "M 75 75056 01 1",
            "--lat",
            "48.8589",
            "--lon",
            "2.38",
            "--format",
            fmt,
        )
        assert position.returncode == 0, position.stderr
    assert (
        len([p for p in server.events("position_received") if f'"alert_id": {alert_id},' in p]) == 3
    )
    hangup = _tgd(server, "simulate", "hangup", call_sid)
    assert hangup.returncode == 0, hangup.stderr
    assert any(f'"alert_id": {alert_id},' in p for p in server.events("alert_called_back"))  # R-24b
    assert _tgd(server, "simulate", "test-call", "--line", "M 75 75056 02 1").returncode == 0


def test_canary_completes_and_raises_an_alarm_when_the_platform_is_down(server: Server) -> None:
    done = _tgd(server, "canary")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(server.directory / "tgd.db") as db:
        rows = db.execute("SELECT state, nature FROM alerts WHERE is_canary").fetchall()
    db.close()
    assert rows == [("closed", "canari")]
    server.stop()
    failed = _tgd(server, "canary")
    assert failed.returncode == 1 and "CANARI EN ÉCHEC" in failed.stderr
    assert any('"canary_failed"' in p for p in server.events("supervisor_alarm"))
