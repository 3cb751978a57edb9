"""The whole production topology for the failure drills: ``scripts/stack.py``, as ``make stack``.

One stack per module, in a temp directory on free loopback ports: nginx, two app
processes, PostgreSQL primary + synchronous standby, Redis, two schedulers, the
fallback process and the fake Twilio, all in production mode. The helpers play the
carrier (signed webhooks through nginx; the Fallback URL when the platform fails,
as Twilio does) and operators' consoles (real logins, Socket.IO through nginx).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pyotp
import pytest
import requests
import socketio
from sqlalchemy import Engine, select
from twilio.request_validator import RequestValidator

from tgd.db.models import Alert
from tgd.db.session import make_engine

ROOT = Path(__file__).resolve().parents[2]
TGD = str(Path(sys.executable).with_name("tgd"))
PASSWORD = "Stack-Operateur-2026!"
LOGINS_PER_MINUTE = 40


def load_stack_module() -> ModuleType:
    """Import ``scripts/stack.py`` (the very code ``make stack`` runs)."""
    spec = importlib.util.spec_from_file_location("tgd_stack", ROOT / "scripts" / "stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tgd_stack"] = module
    spec.loader.exec_module(module)
    return module


stack_module = load_stack_module()


@dataclass
class Answer:
    """What the carrier got for one call."""

    call_sid: str
    via: str  # "platform" or "fallback"
    status: int
    body: str
    seconds: float

    @property
    def bridged(self) -> bool:
        return self.status == 200 and ("<Conference" in self.body or "<Number>" in self.body)


class Carrier:
    """Twilio's side: signed voice webhooks; the Fallback URL when the platform fails."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.token = stack.auth_token()
        self.validator = RequestValidator(self.token)
        self.numbers: set[str] = set()  # every caller number sent (personal data, E-11)
        self.http = requests.Session()

    def call(self, call_sid: str, from_number: str) -> Answer:
        """Deliver one call as Twilio does: primary URL, else the Fallback URL."""
        self.numbers.add(from_number)
        params = {
            "CallSid": call_sid,
            "From": from_number,
            "To": "+33199000000",
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
        url = self.stack.url + "/gateway/twilio/voice"
        started = time.monotonic()
        try:
            response = requests.post(
                url,
                data=params,
                headers={"X-Twilio-Signature": self.validator.compute_signature(url, params)},
                timeout=15,  # Twilio's limit for a webhook
            )
            if response.status_code == 200:
                return Answer(call_sid, "platform", 200, response.text, time.monotonic() - started)
        except requests.RequestException:
            pass
        fallback = self.stack.fallback_url
        params = {**params, "ErrorCode": "11200", "ErrorUrl": url}
        started = time.monotonic()  # Twilio gives the fallback its own 15 s
        response = requests.post(
            fallback,
            data=params,
            headers={"X-Twilio-Signature": self.validator.compute_signature(fallback, params)},
            timeout=15,
        )
        return Answer(
            call_sid, "fallback", response.status_code, response.text, time.monotonic() - started
        )

    def burst(
        self, prefix: str, *, rate: float, seconds: float, during: Any = None
    ) -> list[Answer]:
        """Open loop: ``rate`` calls a second for ``seconds``; ``during()`` runs meanwhile."""
        count = int(rate * seconds)
        answers: list[Answer] = []
        lock = threading.Lock()

        def send(index: int, at: float) -> None:
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            answer = self.call(f"CA{prefix}{index:06d}".ljust(34, "0")[:34], _number(index))
            with lock:
                answers.append(answer)

        start = time.monotonic() + 0.5
        with ThreadPoolExecutor(max_workers=48) as pool:
            futures = [pool.submit(send, i, start + i / rate) for i in range(count)]
            if during is not None:
                during()
            for future in futures:
                future.result()
        return answers


def _number(index: int) -> str:
    return f"+3361{index % 10_000_000:07d}"  # unknown lines: "appelant non identifié"


@dataclass
class Console:
    """An operator's console: logged in over HTTPS, Socket.IO through nginx."""

    url: str
    username: str
    secret: str
    http: requests.Session = field(default_factory=requests.Session)
    seqs: set[int] = field(default_factory=set)
    alert_ids: set[int] = field(default_factory=set)
    connects: int = 0
    disconnects: int = 0
    last_seq: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    client: Any = None

    def login(self) -> None:
        self._form("/connexion", {"username": self.username, "password": PASSWORD})
        if "/connexion/" in self.location:  # the TOTP step, or the first enrolment
            totp = pyotp.TOTP(self.secret)
            self._form(self.location, {"code": totp.now()})
        assert self.status == 302 and "/connexion" not in self.location, self.username

    def _form(self, path: str, data: dict[str, str]) -> None:
        page = self.http.get(self.url + path, timeout=30).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token, f"no CSRF token on {path}"
        response = self.http.post(
            self.url + path,
            data={"csrf_token": token.group(1), **data},
            allow_redirects=False,
            timeout=30,
        )
        self.status = response.status_code
        location = response.headers.get("Location", "")
        self.location = location.replace(self.url, "")

    def connect(self) -> None:
        client = socketio.Client(
            http_session=self.http,
            reconnection=True,
            reconnection_delay=0.5,
            reconnection_delay_max=2,
        )
        self.client = client

        @client.event
        def connect() -> None:
            with self.lock:
                self.connects += 1
                after = self.last_seq
            client.emit("resume", {"after": after})

        @client.event
        def disconnect(*_args: Any) -> None:
            with self.lock:
                self.disconnects += 1

        @client.on("console_events")
        def console_events(events: list[dict[str, Any]]) -> None:
            # As the browser's console does (console.js): a gap in the gapless sequence
            # is read again from the server.
            with self.lock:
                after = self.last_seq
            fresh = sorted(int(e["seq"]) for e in events if int(e["seq"]) > after)
            if fresh and fresh[0] > after + 1:
                client.emit("resume", {"after": after})
            self._apply(events)

        @client.on("console_head")
        def console_head(data: dict[str, Any]) -> None:
            with self.lock:
                after = self.last_seq
            if int(data.get("seq", 0)) > after:
                client.emit("resume", {"after": after})

        @client.on("caught_up")
        def caught_up(data: dict[str, Any]) -> None:
            self._apply(data.get("events", []))

        client.connect(self.url, transports=["websocket"], wait_timeout=30)

    def _apply(self, events: list[dict[str, Any]]) -> None:
        with self.lock:
            for event in events:
                seq = int(event["seq"])
                self.seqs.add(seq)
                self.last_seq = max(self.last_seq, seq)
                if event.get("kind") == "alert_opened":
                    self.alert_ids.add(int(event["payload"]["alert_id"]))

    def close(self) -> None:
        if self.client is not None:
            self.client.disconnect()
        self.http.close()


class StackDriver:
    """The running stack and what the drills do to it."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.engine: Engine = make_engine(stack.database_url(), watch_writes=False)
        self.carrier = Carrier(stack)
        self.consoles: list[Console] = []

    @property
    def state(self) -> Any:
        return stack_module.State.load(self.stack.dir)

    def app_ports(self) -> list[int]:
        return list(self.stack.ports.apps)

    def metrics(self) -> dict[int, str]:
        """Each app process's own /metrics, by its port (Prometheus text)."""
        return {
            port: requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            for port in self.app_ports()
        }

    def console_counts(self) -> dict[int, int]:
        """Consoles connected to each app process (its own /metrics, on its own port)."""
        counts = {}
        for port, body in self.metrics().items():
            found = re.search(r"^tgd_console_connections (\S+)$", body, re.MULTILINE)
            counts[port] = int(float(found.group(1))) if found else 0
        return counts

    def voice_webhooks_answered(self) -> dict[int, int]:
        """Voice webhooks each app process answered so far (its own /metrics)."""
        counts = {}
        for port, body in self.metrics().items():
            found = re.findall(
                r'^tgd_webhook_duration_seconds_count\{route="/gateway/twilio/voice"[^}]*\} (\S+)$',
                body,
                re.MULTILINE,
            )
            counts[port] = int(sum(float(n) for n in found))
        return counts

    def alerts_by_sid(self, sids: set[str]) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(Alert.call_sid, Alert.id).where(Alert.call_sid.in_(sorted(sids)))
            ).all()
        for sid, alert_id in rows:
            found.setdefault(sid, []).append(alert_id)
        return found

    def wait_recorded(self, sids: set[str], *, deadline: float = 180) -> dict[str, list[int]]:
        """Wait until every call is an alert (the spool replays), then return them."""
        end = time.monotonic() + deadline
        found: dict[str, list[int]] = {}
        while time.monotonic() < end:
            try:
                found = self.alerts_by_sid(sids)
            except Exception:  # the database is coming back
                self.engine.dispose()
                found = {}
            if set(found) == sids:
                return found
            time.sleep(1)
        missing = sorted(sids - set(found))
        raise AssertionError(f"{len(missing)} call(s) never recorded, e.g. {missing[:5]}")

    def wait_consoles_saw(
        self, alert_ids: set[int], consoles: list[Console], *, deadline: float = 120
    ) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if all(alert_ids <= c.alert_ids for c in consoles):
                return
            time.sleep(0.5)
        for console in consoles:
            missing = alert_ids - console.alert_ids
            assert not missing, f"{console.username} missed {len(missing)} alert(s)"

    def kill_group(self, pid: int) -> None:
        os.killpg(pid, signal.SIGKILL)

    def wait_ready(self, *, deadline: float = 180) -> None:
        self.stack._wait_http(self.stack.url + "/readyz", "readiness", deadline=deadline)

    def lease_holder(self) -> str | None:
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT holder, expires_at FROM scheduler_leases WHERE name = 'scheduler'"
            ).first()
        if row is None or row[1] < datetime.now(UTC):
            return None
        return str(row[0])

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.stack.logs.glob("*.log"))
        )


def create_operators(stack: Any, count: int) -> dict[str, str]:
    """Create ``count`` operator accounts in one process; return username -> TOTP secret."""
    script = f"""
import json
from tgd.container import build_platform
from tgd.db.writes import write_transaction
from tgd.domain.roles import Role
from tgd.services import users
from tgd.settings import load_settings
platform = build_platform(load_settings())
secrets = {{}}
with write_transaction(platform.sessions) as session:
    for index in range({count}):
        account, secret = users.create_user(
            session, username=f"operateur{{index}}", display_name="", role=Role.OPERATOR,
            password={PASSWORD!r}, juridiction_insees=(), email=None, actor="system:test",
            cipher=platform.cipher, hasher=platform.hasher, clock=platform.clock)
        secrets[account.username] = secret
print(json.dumps(secrets))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _up(stack: Any) -> None:
    """Start the stack; if it fails, print its logs (CI removes the directory with them)."""
    try:
        stack.up()
    except Exception:
        for log in sorted(stack.logs.glob("*.log")):
            print(f"--- {log.name} (end)\n{log.read_text(errors='replace')[-3000:]}")
        raise


@pytest.fixture(scope="module")
def driver() -> Iterator[StackDriver]:
    """A whole stack for the module's drills, stopped at the end whatever happened."""
    if not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is missing: make test-stack installs it (scripts/system_packages.sh)")
    # Not under pytest's temporary root: pytest keeps it 0700, and PostgreSQL's user must
    # reach its data directories.
    directory = Path(tempfile.mkdtemp(prefix="tgd-stack-"))
    os.chmod(directory, 0o711)  # noqa: S103 - traversable, not listable
    stack = stack_module.Stack(
        directory,
        stack_module.Ports.free(2),
        tgd=TGD,
        lease_seconds=10,
        extra_env={
            "TGD_GATEWAY_RECORD_TIMEOUT_MS": "3000",
            # The drills log a dozen operators in from one address (127.0.0.1, through nginx).
            "TGD_SECURITY_LOGIN_ATTEMPTS_PER_MINUTE": str(LOGINS_PER_MINUTE),
        },
    )
    driver: StackDriver | None = None
    try:
        _up(stack)
        driver = StackDriver(stack)
        yield driver
    finally:
        try:
            if driver is not None:
                for console in driver.consoles:
                    console.close()
                driver.engine.dispose()
                driver.carrier.http.close()
        finally:
            stack.down()
            if os.environ.get("CI") or not os.environ.get("KEEP_STACK"):
                shutil.rmtree(directory, ignore_errors=True)
