"""The runtime under real concurrency (issue 11): everything at once against real processes.

``tgd run`` (gunicorn, scheduler inside with its start-up catch-up and escalation)
on SQLite, then on PostgreSQL. While 500 signed voice webhooks arrive at 50 per
second: two console users whose sessions go quiet past the refresh interval then
click, low-privilege users post to forbidden actions, ``tgd report`` runs in a loop
beside the server, and a console stays connected. Then: every webhook's alert is
recorded (at once, or from the spool the server replays when the gateway could not
write in time) and was shown on the console, no alert was lost (``ALERT NOT
RECORDED``), nobody's action got a 5xx, each forbidden POST got a 403 and an audit
entry, no job failed, every report exited 0, and the write discipline was never
broken. How long refusals took and how many calls went through the spool are printed:
figures for bench/, not assertions.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from tests.browser.live import (
    TGD,
    TOKEN,
    Live,
    free_port,
    http_login,
    platform_env,
    prepare,
    running,
)
from tests.conftest import PG_URL, reset_postgres
from tgd.db.models import Alert, AuditEntry, JobRun
from tgd.db.session import make_engine

RATE = 50  # webhooks per second (E-12b: open loop)
WEBHOOKS = 500
TOUCH_SECONDS = 2  # the session refresh interval, shortened so that quiet spells are short
LINES = ["+33612340001", "+33612340002", "+262692340001", "+508551001", "+33699999998"]
FORBIDDEN = [  # (user, method path, form or JSON): each must be a prompt 403
    ("comite", "/admin/utilisateurs/1/desactiver", "form"),
    ("association", "/admin/utilisateurs/1/desactiver", "form"),
    ("parquet.paris", "/api/console/alerts/1/claim", "json"),
]


@dataclass
class Outcomes:
    """What every actor saw, collected from their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    webhooks: list[tuple[str, int, float]] = field(default_factory=list)  # sid, status, s
    people: list[tuple[str, int, float]] = field(default_factory=list)  # action, status, s
    forbidden: list[tuple[str, int, float]] = field(default_factory=list)
    reports: list[tuple[int, str]] = field(default_factory=list)
    shown: set[int] = field(default_factory=set)

    def add(self, name: str, item: Any) -> None:
        with self.lock:
            getattr(self, name).append(item)


class Person:
    """A logged-in user over HTTP: password, then TOTP, then CSRF-protected POSTs."""

    def __init__(self, url: str, username: str) -> None:
        self.url, self.username = url, username
        self.http = http_login(url, username)
        self.csrf = self._token("/console" if username in ("operateur", "superviseur") else "/")

    def _token(self, path: str) -> str:
        page = self.http.get(self.url + path, timeout=20).text
        found = re.search(r'name="csrf[-_]token"[^>]*(?:value|content)="([^"]+)"', page)
        assert found, f"no CSRF token on {path} for {self.username}"
        return found.group(1)

    def post(
        self, path: str, kind: str, payload: dict[str, Any] | None = None
    ) -> tuple[int, float]:
        """POST as this user; return the status and the seconds it took."""
        started = time.monotonic()
        if kind == "json":
            response = self.http.post(
                self.url + path,
                json=payload or {},
                headers={"X-CSRFToken": self.csrf},
                allow_redirects=False,
                timeout=30,
            )
        else:
            response = self.http.post(
                self.url + path,
                data={"csrf_token": self.csrf, **(payload or {})},
                allow_redirects=False,
                timeout=30,
            )
        return response.status_code, time.monotonic() - started


def _send_webhooks(live: Live, outcomes: Outcomes, stop: threading.Event) -> None:
    """500 signed voice webhooks on a fixed schedule (open loop), each with a new CallSid."""
    validator = RequestValidator(TOKEN)
    target = live.url + "/gateway/twilio/voice"
    start = time.monotonic() + 0.2
    threads = []

    def one(n: int) -> None:
        delay = start + n / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        params = {
            "CallSid": f"CAtorture{n:04d}{secrets.token_hex(11)}",
            "From": LINES[n % len(LINES)],
            "To": "+33199000000",
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
        headers = {"X-Twilio-Signature": validator.compute_signature(target, params)}
        sent = time.monotonic()
        try:
            status = requests.post(target, data=params, headers=headers, timeout=20).status_code
        except requests.RequestException:
            status = 0
        outcomes.add("webhooks", (params["CallSid"], status, time.monotonic() - sent))

    for n in range(WEBHOOKS):
        thread = threading.Thread(target=one, args=(n,), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout=60)
    stop.set()


def _report_loop(live: Live, outcomes: Outcomes, stop: threading.Event, out: Path) -> None:
    """`tgd report` again and again beside the server, until the burst is over."""
    n = 0
    while not stop.is_set() or n == 0:
        n += 1
        done = subprocess.run(
            [
                TGD,
                "report",
                "--juridiction",
                "75056",
                "--period",
                "2026-Q3",
                "--format",
                "ods",
                "--out",
                str(out / f"report-{n}.ods"),
            ],
            env=live.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        outcomes.add("reports", (done.returncode, (done.stderr or done.stdout)[-300:]))


def _people(
    live: Live,
    outcomes: Outcomes,
    stop: threading.Event,
    alert_ids: Callable[[], list[int]],
    operator: Person,
) -> None:
    """Two console users go quiet past the refresh interval, then click; others try what
    they may not do."""
    operators = [operator, Person(live.url, "superviseur")]
    intruders = [(Person(live.url, user), path, kind) for user, path, kind in FORBIDDEN]
    rounds = 0
    while not stop.is_set() or rounds < 2:
        rounds += 1
        time.sleep(TOUCH_SECONDS + 0.5)  # quiet: the next request refreshes the session
        ids = alert_ids()
        clicks = []
        for i, person in enumerate(operators):
            if len(ids) > i:
                target = ids[-1 - i]

                def click(person: Person = person, target: int = target) -> None:
                    status, took = person.post(
                        f"/api/console/alerts/{target}/note", "json", {"text": "torture"}
                    )
                    outcomes.add("people", ("note", status, took))
                    status, took = person.post(f"/api/console/alerts/{target}/claim", "json")
                    outcomes.add("people", ("claim", status, took))

                clicks.append(threading.Thread(target=click))
        for intruder, path, kind in intruders:

            def refuse(intruder: Person = intruder, path: str = path, kind: str = kind) -> None:
                status, took = intruder.post(path, kind)
                outcomes.add("forbidden", (f"{intruder.username} {path}", status, took))

            clicks.append(threading.Thread(target=refuse))
        for thread in clicks:
            thread.start()
        for thread in clicks:
            thread.join(timeout=60)


class Console:
    """A connected console (Socket.IO, the operator's session): which alerts it was shown."""

    def __init__(self, live: Live, person: Person, outcomes: Outcomes) -> None:
        self.outcomes = outcomes
        self.client = socketio.Client(reconnection=True)
        self.client.on("console_events", self._events)
        self.client.on("caught_up", self._caught_up)
        cookie = "; ".join(f"{c.name}={c.value}" for c in person.http.cookies)
        self.client.connect(
            live.url, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=20
        )
        self.last_seq = 0

    def _event(self, event: dict[str, Any]) -> None:
        self.last_seq = max(self.last_seq, int(event.get("seq") or 0))
        if event.get("kind") == "alert_opened":
            with self.outcomes.lock:
                self.outcomes.shown.add(int(event["payload"]["alert_id"]))

    def _events(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self._event(event)

    def _caught_up(self, data: dict[str, Any]) -> None:
        self._events(data.get("events", []))

    def catch_up(self) -> None:
        """Ask for what was missed (E-02), as a console does on reconnect."""
        self.client.emit("resume", {"after": self.last_seq})

    def close(self) -> None:
        self.client.disconnect()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    """The platform under test on each database, with short escalation and refresh delays."""
    port = free_port()
    extra = {
        "alerts_escalate_after_seconds": "3",
        "alerts_overflow_after_seconds": "8",
        "alerts_overflow_number": "+33600000099",
        "security_session_touch_seconds": str(TOUCH_SECONDS),
    }
    if request.param == "postgres":
        if not PG_URL:
            pytest.skip("PostgreSQL not available: set TGD_TEST_DATABASE_URL (make test does)")
        reset_postgres(PG_URL)
        extra["database_url"] = PG_URL
    env = platform_env(tmp_path, port, **extra)
    prepare(env)
    with running(env, port, tmp_path / "server.log") as platform:
        time.sleep(3)  # the scheduler's start-up catch-up runs first, as after a real start
        yield platform


def test_nothing_is_lost_when_everything_happens_at_once(live: Live, tmp_path: Path) -> None:
    engine = make_engine(live.env["TGD_DATABASE_URL"], watch_writes=False)
    outcomes = Outcomes()
    stop = threading.Event()

    def alert_ids() -> list[int]:
        with engine.connect() as conn:
            return list(conn.scalars(select(Alert.id).order_by(Alert.id.desc()).limit(20)))

    viewer = Person(live.url, "operateur")
    console = Console(live, viewer, outcomes)
    actors = [
        threading.Thread(target=_send_webhooks, args=(live, outcomes, stop)),
        threading.Thread(target=_report_loop, args=(live, outcomes, stop, tmp_path)),
        threading.Thread(target=_people, args=(live, outcomes, stop, alert_ids, viewer)),
    ]
    try:
        for actor in actors:
            actor.start()
        for actor in actors:
            actor.join(timeout=300)
        sids = {sid for sid, _, _ in outcomes.webhooks}
        # A call the gateway could not write in time was bridged and kept in the spool,
        # which the server replays every 2 s: it counts once it is recorded.
        deadline = time.monotonic() + 60
        while True:
            with engine.connect() as conn:
                recorded = dict(
                    conn.execute(
                        select(Alert.call_sid, Alert.id).where(Alert.call_sid.in_(sids))
                    ).all()
                )
            if len(recorded) == len(sids) or time.monotonic() > deadline:
                break
            time.sleep(1)
        deadline = time.monotonic() + 20
        while not set(recorded.values()) <= outcomes.shown and time.monotonic() < deadline:
            console.catch_up()
            time.sleep(0.5)
    finally:
        console.close()
    log = (tmp_path / "server.log").read_text(errors="replace")
    with engine.connect() as conn:
        failed_jobs = conn.execute(
            select(JobRun.job, JobRun.details).where(JobRun.outcome == "error")
        ).all()
        denied = conn.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "access.denied")
        )
        destroyed = conn.scalar(
            select(func.count())
            .select_from(JobRun)
            .where(JobRun.job == "destruction", JobRun.outcome == "ok")
        )
    engine.dispose()

    assert len(outcomes.webhooks) == WEBHOOKS
    assert [w for w in outcomes.webhooks if w[1] != 200] == []
    assert len(recorded) == WEBHOOKS, "alerts lost"
    assert "ALERT NOT RECORDED" not in log
    assert set(recorded.values()) <= outcomes.shown, "alerts never shown on the console"
    assert outcomes.people and [p for p in outcomes.people if p[1] >= 500] == []
    assert outcomes.forbidden and {f[1] for f in outcomes.forbidden} == {403}
    # Figures, not assertions (speed lives in bench/): how long refusals took, how many
    # calls went through the spool.
    print(
        f"torture: slowest refusal {max(f[2] for f in outcomes.forbidden):.2f} s, "
        f"{log.count('deferred to the spool')} call(s) deferred to the spool"
    )
    assert denied >= len(outcomes.forbidden)  # each refusal audited
    assert failed_jobs == []
    assert destroyed >= 1  # the start-up catch-up ran the destruction
    assert outcomes.reports and [r for r in outcomes.reports if r[0] != 0] == []
    assert "write discipline" not in log
    assert "Traceback" not in log
