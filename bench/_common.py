"""What the benchmarks share: the escalation switch, the demo operator's login, a percentile.

Imported after the bench has put the repository root on ``sys.path`` (the demo
accounts come from the browser tests' helpers).
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pyotp
import requests
import websocket

from tests.browser.live import ACCOUNTS

# Real conditions by default: the benches leave their alerts unclaimed, so escalation (10 s)
# and overflow (30 s) run in the middle of the measurement, as they would in the centre.
# ``--no-escalation`` switches them off, to tell their cost apart; never to meet a target.
TIMERS: dict[str, str] = {}  # the platform settings of the timers for this run
NO_ESCALATION = {"alerts_escalate_after_seconds": "3600", "alerts_overflow_after_seconds": "7200"}


def add_escalation_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--no-escalation`` to the bench's options."""
    parser.add_argument(
        "--no-escalation", action="store_true", help="diagnosis only: no escalation or overflow"
    )


def apply_escalation_option(args: argparse.Namespace) -> None:
    """Switch escalation and overflow off (``TIMERS``) when asked, and say so."""
    if args.no_escalation:
        TIMERS.update(NO_ESCALATION)
        print("escalation and overflow OFF: these figures are not real conditions")


def login(url: str, *, timeout: float = 10) -> str:
    """Log the demo operator in (password, then TOTP code); return the cookie header.

    nginx's routing cookie (``tgd_route``), if any, is left out: a bench that spreads its
    consoles over the app processes gives each one its own.
    """
    http = requests.Session()
    account = ACCOUNTS["operateur"]

    def post(path: str, data: dict[str, str]) -> None:
        page = http.get(url + path, timeout=timeout).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token
        http.post(url + path, data={"csrf_token": token.group(1), **data}, timeout=timeout)

    post("/connexion", {"username": "operateur", "password": account.password})
    totp = pyotp.TOTP(account.totp_secret)
    post("/connexion/code", {"code": totp.generate_otp(totp.timecode(datetime.now(UTC)))})
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies if c.name != "tgd_route")


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0 to 1) of ``values``, nearest rank; 0.0 for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


class LightConsole:
    """A console's socket on the wire, without decoding what it receives.

    It connects like the console's Socket.IO client (Engine.IO 4 over WebSocket, the
    session cookie, the ``40`` connect packet), answers the server's pings and reads every
    ``console_events`` message, counting the events in it by their ``"seq":`` key instead
    of decoding the JSON. The server does exactly the same work for it as for a browser;
    the bench's 50 consoles cost the bench little CPU, leaving the cores to the server
    (python-socketio clients decoding 500,000 events took about one core of the two).
    """

    def __init__(
        self, url: str, cookie: str, on_message: Callable[[str, float], None] | None = None
    ) -> None:
        self.on_message = on_message  # given each events message and when it arrived
        endpoint = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        # websocket-client, not simple-websocket's client: the latter leaves a frame that
        # arrives in the same segment as the handshake's answer (as nginx sends them after
        # retrying a dead app process) unread until the next one, 25 s later.
        self.ws = websocket.create_connection(endpoint, header=[f"Cookie: {cookie}"], timeout=20)
        opened = self.ws.recv()
        if not isinstance(opened, str) or not opened.startswith("0"):
            raise ConnectionError(f"no Engine.IO open packet: {opened!r}")
        self.ws.send("40")
        joined = self.ws.recv()
        if not isinstance(joined, str) or not joined.startswith("40"):
            raise ConnectionError(f"console socket refused: {joined!r}")
        self.ws.settimeout(None)
        self.events = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                message = self.ws.recv()
            except (websocket.WebSocketException, OSError):
                return
            if message == "2":  # Engine.IO ping: the pong keeps the socket open
                self.ws.send("3")
            elif isinstance(message, str) and message.startswith('42["console_events"'):
                arrived = time.perf_counter()
                self.events += message.count('"seq":')
                if self.on_message is not None:
                    self.on_message(message, arrived)

    def close(self) -> None:
        """Close the socket."""
        self.ws.close()
