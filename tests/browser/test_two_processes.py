"""Two app processes joined by a real Redis server (E-02): A receives, B's console sees."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import socketio

from tests.browser.live import free_port, http_login, platform_env, prepare, running

REDIS = shutil.which("redis-server")


def _start_redis(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start Redis on a free port; pick another if it exits (the port taken meanwhile)."""
    import redis

    for _ in range(3):
        port = free_port()
        process = subprocess.Popen(
            [REDIS or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 10
        while process.poll() is None:
            try:
                client.ping()
                client.close()
                return process, port
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    process.terminate()
                    raise
                time.sleep(0.1)
        client.close()
    raise RuntimeError("redis-server exited at start three times")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throwaway Redis server on loopback."""
    if REDIS is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; make test does)")
    process, port = _start_redis(tmp_path)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def logged_in(url: str, username: str) -> requests.Session:
    """A browser-like session logged in through the forms."""
    http = http_login(url, username, timeout=10)
    assert http.get(url + "/api/console/board", timeout=10).status_code == 200
    return http


def test_alert_received_by_one_process_reaches_a_console_on_the_other(
    tmp_path: Path, redis_url: str
) -> None:
    port_a, port_b = free_port(), free_port()
    env_a = platform_env(tmp_path, port_a, redis_url=redis_url)
    env_b = platform_env(tmp_path, port_b, redis_url=redis_url)
    prepare(env_a)
    with (
        running(env_a, port_a, tmp_path / "a.log") as a,
        running(env_b, port_b, tmp_path / "b.log") as b,
    ):
        http = logged_in(b.url, "operateur")
        received: list[dict[str, object]] = []
        arrived = threading.Event()
        client = socketio.Client(reconnection=False)

        @client.on("console_events")
        def _events(events: list[dict[str, object]]) -> None:
            received.extend(events)
            if any(e.get("kind") == "alert_opened" for e in events):
                arrived.set()

        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        client.connect(b.url, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=10)
        try:
            a.simulate_alert("M 75 75056 01 1")
            assert arrived.wait(10), f"B's console got {received}"
        finally:
            client.disconnect()


def test_a_logout_on_one_process_closes_the_console_socket_on_the_other(
    tmp_path: Path, redis_url: str
) -> None:
    """E-09 (issue 12): the session is checked for every event, in every process."""
    port_a, port_b = free_port(), free_port()
    env_a = platform_env(tmp_path, port_a, redis_url=redis_url)
    env_b = platform_env(tmp_path, port_b, redis_url=redis_url)
    prepare(env_a)
    with (
        running(env_a, port_a, tmp_path / "a.log") as a,
        running(env_b, port_b, tmp_path / "b.log") as b,
    ):
        http = logged_in(b.url, "operateur")
        received: list[str] = []
        closed = threading.Event()
        client = socketio.Client(reconnection=False)
        client.on(
            "console_events", lambda events: received.extend(str(e.get("kind")) for e in events)
        )
        client.on("disconnect", lambda *args: closed.set())
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        client.connect(b.url, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=10)
        supervisor = logged_in(a.url, "superviseur")
        board = supervisor.get(a.url + "/console/supervision", timeout=10).text
        assert "Opérateur démo" in board.split('id="connectes"', 1)[1].split("</ul>", 1)[0]
        # The operator logs out through process A (same session cookie, another process).
        page = http.get(a.url + "/", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        http.post(a.url + "/connexion/deconnexion", data={"csrf_token": token.group(1)}, timeout=10)
        before = len(received)
        a.simulate_alert("M 75 75056 02 1")  # emitted after the logout, through Redis
        assert closed.wait(10), "B kept the socket of a session that ended on A"
        assert received[before:] == []
        client.disconnect()
