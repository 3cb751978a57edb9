"""A real platform process on loopback for browser and multi-process tests."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import requests

from tgd.services.demo import DEMO_ACCOUNTS

TOKEN = "live0123456789abcdef0123456789ab"
TGD = str(Path(sys.executable).with_name("tgd"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ACCOUNTS = {a.username: a for a in DEMO_ACCOUNTS}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    """A running platform: its URL and the environment its CLI commands need."""

    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    def tgd(self, *args: str) -> str:
        """Run a ``tgd`` command against this platform; return its output."""
        done = subprocess.run(
            [TGD, *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def simulate_alert(self, reference: str) -> None:
        """A terminal calls (signed webhook through the simulator)."""
        self.tgd("simulate", "alert", "--line", reference, "--url", self.url)


def platform_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of one platform instance."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGD_")}
    env.update(
        TGD_DATA_DIR=str(data_dir),
        TGD_DATABASE_URL=extra.pop("database_url", f"sqlite:///{data_dir / 'tgd.db'}"),
        TGD_SECRET_KEY="live-secret-key-0123456789abcdef0123456789",
        TGD_TWILIO_AUTH_TOKEN=TOKEN,
        TGD_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        TGD_SECURITY_PASSWORD_HASHING="fast",
    )
    env.update({f"TGD_{k.upper()}": v for k, v in extra.items()})
    return env


def prepare(env: dict[str, str]) -> None:
    """Migrate and load the demo data."""
    for args in (["db", "upgrade"], ["demo", "load"]):
        done = subprocess.run([TGD, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr


@contextmanager
def running(env: dict[str, str], port: int, log: Path, *options: str) -> Iterator[Live]:
    """Start ``tgd run`` (with ``options``) and stop it at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [TGD, "run", "--host", "127.0.0.1", "--port", str(port), *options],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90  # a loaded CI machine boots slowly
            while True:
                try:
                    with urllib.request.urlopen(url + "/healthz", timeout=2) as response:  # noqa: S310
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"platform did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
            yield Live(url, env, process)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def demo_platform(data_dir: Path, **settings: str) -> Iterator[Live]:
    """A migrated platform with the demo data, served from ``data_dir`` until the end.

    ``settings`` are given as ``TGD_*`` variables (``penalties_call_order_value="200"``).
    """
    port = free_port()
    env = platform_env(data_dir, port, **settings)
    prepare(env)
    with running(env, port, data_dir / "server.log") as server:
        yield server


def login(page: object, url: str, username: str, *, step_offset: int = 0) -> None:
    """Log in through the real forms (password, then TOTP)."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    account = ACCOUNTS[username]
    page.goto(url + "/connexion")
    page.fill("#username", username)
    page.fill("#password", account.password)
    page.click("main button[type=submit]")
    totp = pyotp.TOTP(account.totp_secret)
    page.fill("#code", totp.generate_otp(totp.timecode(datetime.now(UTC)) + step_offset))
    page.click("main button[type=submit]")
    page.wait_for_url(url + "/")


def http_login(url: str, username: str, *, timeout: float = 20) -> requests.Session:
    """Log a demo user in over HTTP as a browser does: password, then TOTP when asked.

    A TOTP code is accepted once: two logins of one user within 30 s need two users.
    """
    http = requests.Session()
    account = ACCOUNTS[username]

    def post(path: str, data: dict[str, str]) -> requests.Response:
        page = http.get(url + path, timeout=timeout).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token, f"no CSRF token on {path}"
        return http.post(
            url + path,
            data={"csrf_token": token.group(1), **data},
            allow_redirects=False,
            timeout=timeout,
        )

    answer = post("/connexion", {"username": username, "password": account.password})
    if "/connexion/code" in answer.headers.get("Location", ""):
        totp = pyotp.TOTP(account.totp_secret)
        code = totp.generate_otp(totp.timecode(datetime.now(UTC)))
        answer = post("/connexion/code", {"code": code})
    location = answer.headers.get("Location", "")
    assert answer.status_code == 302 and "/connexion" not in location, f"{username} not logged in"
    return http
