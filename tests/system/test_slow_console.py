"""A console that stops reading holds up no other console and loses nothing (E-02).

``tgd run`` on SQLite with two consoles of one operator: one reads everything at once,
the other stops reading after its connection (a frozen tab), on a socket with a small
receive buffer. Some 5 MB of console events are then committed, more than the
kernel's buffers hold for a loopback socket (about 3 MB). The reading console gets
them all while the other still reads nothing: the server's sends to it waited in its
socket's lane instead of holding up the pass (``dispatch_ui/socket_lanes.py``). When the
frozen console reads again, every event is there, whole and in order.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import socketio
from sqlalchemy import select
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from tests.browser.live import free_port, http_login, platform_env, prepare, running
from tgd.adapters.clock import SystemClock
from tgd.db.models.operations import ConsoleEvent
from tgd.db.session import make_engine, make_session_factory
from tgd.db.writes import write_transaction
from tgd.services import events

EVENTS = 800
PAD = "x" * 6500  # 5 MB in all: more than the kernel buffers of a loopback socket (3 MB)
_SEQ = re.compile(r'"seq":\s*(\d+)')


def _cookie(url: str) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in http_login(url, "operateur").cookies)


class FrozenConsole:
    """A console's socket that connects, joins, then reads nothing until told to."""

    def __init__(self, url: str, cookie: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect
        self.sock.settimeout(20)
        self.sock.connect((parts.hostname, parts.port))
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.messages: list[str] = []
        self._partial: list[str] = []
        self._seqs: list[int] = []  # the events' seqs, in the order received
        self._accepted = False
        self.sock.sendall(
            self.ws.send(
                Request(
                    host=parts.netloc,
                    target="/socket.io/?EIO=4&transport=websocket",
                    extra_headers=[(b"cookie", cookie.encode())],
                )
            )
        )
        self._read_until(lambda: self._accepted and bool(self.messages))
        assert self.messages.pop(0).startswith("0")  # Engine.IO open
        self.sock.sendall(self.ws.send(TextMessage(data="40")))
        self._read_until(lambda: any(m.startswith("40") for m in self.messages))

    def _read_until(self, done: Any) -> None:
        while not done():
            data = self.sock.recv(65536)
            assert data, "the server closed the frozen console's socket"
            self.ws.receive_data(data)
            for event in self.ws.events():
                if isinstance(event, AcceptConnection):
                    self._accepted = True
                elif isinstance(event, TextMessage):
                    self._partial.append(event.data)
                    if event.message_finished:
                        self._finish("".join(self._partial))
                        self._partial.clear()

    def _finish(self, message: str) -> None:
        self.messages.append(message)
        if message.startswith('42["console_events"'):
            self._seqs.extend(int(s) for s in _SEQ.findall(message))

    def seqs(self) -> list[int]:
        return list(self._seqs)

    def read_until_seq(self, last: int) -> None:
        self._read_until(lambda: bool(self._seqs) and self._seqs[-1] >= last)

    def unread_bytes_waiting(self) -> int:
        """Bytes the kernel holds for this socket, unread (FIONREAD)."""
        import fcntl
        import termios

        out = fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
        return int.from_bytes(out, "little")


def test_a_console_that_stops_reading_holds_up_nobody_and_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    env = platform_env(tmp_path, port)
    prepare(env)
    with running(env, port, tmp_path / "server.log") as live:
        cookie = _cookie(live.url)
        frozen = FrozenConsole(live.url, cookie)
        seen: list[int] = []
        all_seen = threading.Event()
        reader = socketio.Client(reconnection=False)

        @reader.on("console_events")
        def _events(batch: list[dict[str, Any]]) -> None:
            seen.extend(int(e["seq"]) for e in batch)
            if len(seen) >= EVENTS and max(seen) >= last_seq[0]:
                all_seen.set()

        last_seq = [10**9]
        reader.connect(live.url, headers={"Cookie": cookie}, transports=["websocket"])
        try:
            engine = make_engine(env["TGD_DATABASE_URL"], watch_writes=False)
            sessions = make_session_factory(engine)
            clock = SystemClock()
            for _ in range(EVENTS // 100):  # ten commits, ten passes or more
                with write_transaction(sessions) as session:
                    for i in range(100):
                        events.add_event(
                            session, "test", {"i": i, "pad": PAD}, territory_id=None, clock=clock
                        )
            with sessions() as session:
                added = list(
                    session.scalars(
                        select(ConsoleEvent.seq)
                        .where(ConsoleEvent.kind == "test")
                        .order_by(ConsoleEvent.seq)
                    )
                )
            engine.dispose()
            assert len(added) == EVENTS and None not in added  # numbered at commit
            last_seq[0] = added[-1]
            if len(seen) >= EVENTS and max(seen) >= last_seq[0]:
                all_seen.set()

            assert all_seen.wait(30), "the reading console was held up by the frozen one"
            assert frozen.unread_bytes_waiting() > 0  # the frozen console has read nothing
            metrics = requests.get(live.url + "/metrics", timeout=10).text
            waited = re.search(r"^tgd_console_frames_waited_total (\S+)$", metrics, re.M)
            assert waited and float(waited.group(1)) > 0, "no frame waited for the frozen socket"

            frozen.read_until_seq(last_seq[0])  # the frozen console wakes up
            wanted = set(added)
            got = [s for s in frozen.seqs() if s in wanted]
            assert got == added  # all of them, in order, once
            assert all(json.loads(m[2:])[1] for m in frozen.messages if m.startswith("42"))
        finally:
            reader.disconnect()
            frozen.sock.close()
