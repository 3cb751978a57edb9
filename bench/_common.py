"""What the benchmarks share: the escalation switch, the demo operator's login, a percentile.

Imported after the bench has put the repository root on ``sys.path`` (the demo
accounts come from the browser tests' helpers).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate
from wsproto.utilities import LocalProtocolError

from tests.browser.live import http_login

# Real conditions by default: the benches leave their alerts unclaimed, so escalation (10 s)
# and overflow (30 s) run in the middle of the measurement, as they would in the centre.
# ``--no-escalation`` switches them off, to tell their cost apart; never to meet a target.
TIMERS: dict[str, str] = {}  # the platform settings of the timers for this run
NO_ESCALATION = {"alerts_escalate_after_seconds": "3600", "alerts_overflow_after_seconds": "7200"}
# Browsers offer permessage-deflate and the server accepts it: each message is compressed
# once per socket. The light consoles offer it too, unless ``--no-deflate`` (a diagnosis).
WIRE = {"deflate": True}


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


def add_deflate_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--no-deflate`` to the bench's options."""
    parser.add_argument(
        "--no-deflate",
        action="store_true",
        help="diagnosis only: light consoles without permessage-deflate (browsers offer it)",
    )


def apply_deflate_option(args: argparse.Namespace) -> None:
    """Make the light consoles refuse compression (``WIRE``) when asked, and say so."""
    if args.no_deflate:
        WIRE["deflate"] = False
        print("console sockets WITHOUT compression: not what browsers ask for")


def login(url: str, *, timeout: float = 10, username: str = "operateur") -> str:
    """Log a demo console user in (password, then TOTP code); return the cookie header.

    nginx's routing cookie (``tgd_route``), if any, is left out: a bench that spreads its
    consoles over the app processes gives each one its own.
    """
    http = http_login(url, username, timeout=timeout)
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies if c.name != "tgd_route")


def _metric_families(url: str) -> list[Any]:
    from prometheus_client.parser import text_string_to_metric_families

    return list(text_string_to_metric_families(requests.get(f"{url}/metrics", timeout=5).text))


def writer_counters(url: str) -> dict[str, float]:
    """The gateway writer's counters of the process serving ``url`` (its ``/metrics``),
    and those of the work that stepped aside for incoming calls (``calls_first_…``)."""
    counters = {}
    for family in _metric_families(url):
        if not family.samples:
            continue
        if family.name.startswith("tgd_gateway_"):
            counters[family.name[len("tgd_gateway_") :]] = family.samples[0].value
        elif family.name.startswith("tgd_calls_first_"):
            counters[family.name[len("tgd_") :]] = family.samples[0].value
    return counters


def gate_counters(url: str) -> dict[str, float]:
    """The write gate's counters of the process serving ``url``: its time held by each
    kind of writer (``hold:<holder>``), and the writers' waits for it by priority."""
    keys = {
        "tgd_write_gate_hold_seconds": ("hold", "holder"),
        "tgd_write_gate_waits": ("waits", "priority"),
        "tgd_write_gate_wait_seconds": ("wait", "priority"),
    }
    counters: dict[str, float] = {}
    for family in _metric_families(url):
        if family.name in keys:
            kind, label = keys[family.name]
            for sample in family.samples:
                counters[f"{kind}:{sample.labels[label]}"] = sample.value
    return counters


def gate_figures(
    before: dict[str, float], after: dict[str, float], seconds: float, *, parallel: bool
) -> str:
    """Say who held the write gate between two ``gate_counters``, as shares of the wall
    time, and how long the gateway writer's batches (priority ALERT) waited for it.

    ``parallel``: the database admits several writers at once (PostgreSQL), so the shares
    add up to more than the wall time.
    """
    d = {name: after[name] - before.get(name, 0.0) for name in after}
    held = {k[len("hold:") :]: v for k, v in d.items() if k.startswith("hold:") and v > 0}
    if not held:
        return "write gate: not held"
    top = sorted(held.items(), key=lambda item: -item[1])[:6]
    shares = ", ".join(f"{holder} {v / seconds:.1%}" for holder, v in top)
    waits = d.get("waits:alert", 0.0)
    waited = f"{1000 * d.get('wait:alert', 0.0) / waits:.1f} ms" if waits else "none"
    summed = ", summed over writers holding slots at once" if parallel else ""
    return (
        f"write gate held {sum(held.values()) / seconds:.0%}{summed} ({shares}); "
        f"the gateway writer waited {waited} for it on average"
    )


def writer_figures(before: dict[str, float], after: dict[str, float], seconds: float) -> str:
    """Say how busy a gateway writer was between two readings of its counters.

    Busy is the share of the wall time it spent in batches (it nears 100 % as its queue
    grows); CPU is its thread's share of those batches' time: the rest it waited, for
    the write gate, the database and, under a burst, the GIL (docs/gateway.md).
    """
    d = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}
    units, batches, busy = d.get("units", 0.0), d.get("batches", 0.0), d.get("batch_seconds", 0.0)
    if not units or not batches or not busy:
        return "writer: no unit written"
    return (
        f"writer busy {busy / seconds:.0%}: {units:.0f} units in {batches:.0f} batches "
        f"({units / batches:.1f} per batch, {1000 * busy / batches:.1f} ms each, CPU "
        f"{d.get('batch_cpu_seconds', 0.0) / busy:.0%} of it); queued "
        f"{1000 * d.get('queue_seconds', 0.0) / units:.1f} ms per unit on average; "
        f"{d.get('calls_written_here', 0.0):.0f} calls written by their own thread; "
        f"{d.get('batches_yielded', 0.0):.0f} batches ended early for an incoming call; "
        + _stepped_aside(d)
        + _turns(d)
    )


def _turns(d: dict[str, float]) -> str:
    """Say how the other webhooks took turns for their Python (``handset_gateway.turns``)."""
    taken, waits = d.get("turns_taken", 0.0), d.get("turns_waits", 0.0)
    if not taken:
        return ""
    average = 1000 * d.get("turns_wait_seconds", 0.0) / waits if waits else 0.0
    waited = f", {average:.1f} ms on average" if waits else ""
    return (
        f"; other webhooks took {taken:.0f} turns, {waits:.0f} of them waited{waited}, "
        f"{d.get('turns_timeouts', 0.0):.0f} to the bound"
    )


def _stepped_aside(d: dict[str, float]) -> str:
    """Say how often other work stepped aside for incoming calls (``tgd.calls_first``)."""
    waits = d.get("calls_first_waits", 0.0)
    if not waits:
        return "no work stepped aside for calls"
    return (
        f"other work stepped aside for calls {waits:.0f} times, "
        f"{1000 * d.get('calls_first_wait_seconds', 0.0) / waits:.1f} ms on average, "
        f"{d.get('calls_first_timeouts', 0.0):.0f} of them to the bound"
    )


def machine_ticks() -> list[int]:
    """The machine's CPU time counters so far (``/proc/stat``: user … steal), in ticks."""
    with open("/proc/stat") as stat:
        return [int(v) for v in stat.readline().split()[1:9]]


def machine_figures(before: list[int], after: list[int]) -> str:
    """Say how busy the machine's cores were between two ``machine_ticks``, and how much
    the hypervisor took (steal): the context of a run's figures on a shared machine."""
    d = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(d) or 1
    idle = d[3] + d[4]  # idle, iowait
    return f"machine: cores {1 - idle / total:.0%} busy, of which steal {d[7] / total:.0%}"


def python_speed() -> str:
    """A fixed piece of pure Python timed on one core (best of five): one day's machine
    against another's, since the spread between days can be wider than a change's effect."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        sum(i * i for i in range(300_000))
        best = min(best, time.perf_counter() - started)
    return f"machine: the speed probe took {1000 * best:.1f} ms (lower is faster)"


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0 to 1) of ``values``, nearest rank; 0.0 for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


# When the kernel received each console message, beside when the bench read it: the
# difference is the bench's own delay (its reader shares a process and the cores with the
# senders). It is part of every console figure; ``reading_delays`` says how much.
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux
_REALTIME_TO_PERF = time.time() - time.perf_counter()
_READ_DELAYS: list[float] = []


def reading_delays() -> str:
    """Say how long after the kernel received them the bench read the consoles' messages."""
    if not _READ_DELAYS:
        return "console sockets: no kernel receive time (SO_TIMESTAMPNS unavailable)"
    ms = [1000 * d for d in _READ_DELAYS]
    return (
        f"console sockets: the bench read each message p50 {percentile(ms, 0.5):.1f} / "
        f"p99 {percentile(ms, 0.99):.1f} ms after the kernel received it (included above)"
    )


class _Reader:
    """One thread that reads the sockets of every ``LightConsole`` of the bench.

    A hundred consoles are a hundred browsers on a hundred workstations: the bench must
    not spend the cores it shares with the server on them. One selector thread costs
    a fraction of what a thread per socket does (their wake-ups fight for the GIL).
    """

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, console: LightConsole) -> None:
        with self.lock:
            self.selector.register(console.sock, selectors.EVENT_READ, console)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, daemon=True)
                self.thread.start()

    def remove(self, console: LightConsole) -> None:
        with self.lock, contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(console.sock)

    def _run(self) -> None:
        while True:
            for key, _ in self.selector.select(timeout=0.5):
                try:
                    key.data.readable()
                except Exception:  # one broken socket must not stop the others' reader
                    self.remove(key.data)


_READER = _Reader()
_SEQ = re.compile(r'"seq":\s*(\d+)')
TIMEOUT = 20.0  # seconds a console's handshake or a send may take


_COMPRESSION_NOTED: set[bool] = set()


def _note_compression(accepted: bool) -> None:
    """Say once whether the server took the compression the consoles offered."""
    if WIRE["deflate"] and accepted not in _COMPRESSION_NOTED:
        _COMPRESSION_NOTED.add(accepted)
        answer = "accepted" if accepted else "declined"
        print(f"console sockets: permessage-deflate offered, {answer} by the server")


class LightConsole:
    """A console's socket on the wire, without decoding what it receives.

    It connects like the console's Socket.IO client (Engine.IO 4 over WebSocket, the
    session cookie, the ``40`` connect packet), answers the server's pings and reads every
    ``console_events`` message, counting the events in it by their ``"seq":`` key instead
    of decoding the JSON. The server does exactly the same work for it as for a browser,
    compression included: like Chromium, it offers permessage-deflate (``WIRE``), and the
    server compresses every message for every socket that accepted it.
    The WebSocket protocol is wsproto's (the library under simple-websocket), driven here
    so that every event of every segment is read at once: simple-websocket's client left a
    frame that came in the same segment as the handshake's answer (as nginx sends them
    after retrying a dead app process) unread until the next one, 25 s later.
    """

    def __init__(
        self, url: str, cookie: str, on_message: Callable[[str, float], None] | None = None
    ) -> None:
        self.on_message = on_message  # given each events message and when it arrived
        self.events = 0
        self.seqs: set[int] = set()  # the sequence numbers received, to find a gap
        self.compressed = False  # permessage-deflate accepted by the server
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 80), TIMEOUT)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self._send_lock = threading.Lock()
        self._partial: list[str] = []
        self._early: list[str] = []  # messages read before the console joined
        self._accepted = False
        self._joined = False
        self._write(
            Request(
                host=parts.netloc,
                target="/socket.io/?EIO=4&transport=websocket",
                extra_headers=[(b"cookie", cookie.encode())],
                extensions=[PerMessageDeflate()] if WIRE["deflate"] else [],
            )
        )
        while not self._accepted:
            self._pump()
        opened = self._first_message()
        if not opened.startswith("0"):
            raise ConnectionError(f"no Engine.IO open packet: {opened!r}")
        self._write(TextMessage(data="40"))
        held: list[str] = []  # events sent before the connect ack: socket.io-client holds them too
        while (joined := self._first_message()).startswith("42"):
            held.append(joined)
        if not joined.startswith("40"):
            raise ConnectionError(f"console socket refused: {joined!r}")
        self._early[:0] = held
        self._joined = True
        self.sock.setblocking(False)
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        for message in self._early:
            self._deliver(message, time.perf_counter())
        _READER.add(self)

    def _first_message(self) -> str:
        while not self._early:
            self._pump()
        return self._early.pop(0)

    def _pump(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("console socket closed during its handshake")
        self._receive(data, time.perf_counter())

    def readable(self) -> None:
        """Read what arrived (the reader's thread)."""
        arrived = time.perf_counter()
        try:
            data, ancillary, _flags, _address = self.sock.recvmsg(262144, 64)
        except BlockingIOError:
            return
        except OSError:
            data, ancillary = b"", []
        if not data:
            _READER.remove(self)
            return
        for level, kind, stamp in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(stamp) >= 16:
                seconds, nanoseconds = struct.unpack("qq", stamp[:16])
                received = seconds + nanoseconds / 1e9 - _REALTIME_TO_PERF
                _READ_DELAYS.append(max(0.0, arrived - received))
        self._receive(data, arrived)

    def _receive(self, data: bytes, arrived: float) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, AcceptConnection):
                self._accepted = True
                self.compressed = any(isinstance(e, PerMessageDeflate) for e in event.extensions)
                _note_compression(self.compressed)
            elif isinstance(event, RejectConnection):
                raise ConnectionError(f"console socket refused: HTTP {event.status_code}")
            elif isinstance(event, TextMessage):
                self._partial.append(event.data)
                if event.message_finished:
                    message, self._partial = "".join(self._partial), []
                    if self._joined:
                        self._deliver(message, arrived)
                    else:
                        self._early.append(message)
            elif isinstance(event, Ping):
                self._write(event.response())
            elif isinstance(event, CloseConnection):
                _READER.remove(self)

    def _deliver(self, message: str, arrived: float) -> None:
        if message == "2":  # Engine.IO ping: the pong keeps the socket open
            self._write(TextMessage(data="3"))
        elif message.startswith('42["console_events"'):
            self.events += message.count('"seq":')
            self.seqs.update(int(seq) for seq in _SEQ.findall(message))
            if self.on_message is not None:
                self.on_message(message, arrived)

    def _write(self, event: Any) -> None:
        with self._send_lock:
            self.sock.settimeout(TIMEOUT)  # a bounded send; the handshake's reads too
            self.sock.sendall(self.ws.send(event))
            if self._joined:
                self.sock.setblocking(False)

    def missing(self, first: int, last: int) -> int:
        """Count the events numbered ``first`` to ``last`` that never reached this console."""
        return sum(1 for seq in range(first, last + 1) if seq not in self.seqs)

    def close(self) -> None:
        """Close the socket."""
        _READER.remove(self)
        with contextlib.suppress(OSError, LocalProtocolError):
            self._write(CloseConnection(code=1000))
        self.sock.close()
