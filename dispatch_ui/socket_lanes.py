"""Console frames written by the thread that emits them, never blocked by a slow console.

python-engineio's threading mode gives every WebSocket a writer thread: an emit puts the
packet on each socket's queue, then each writer thread wakes, takes the GIL, encodes the
packet into a WebSocket frame and sends it. One hub pass to 100 consoles was 100 thread
wake-ups, each waiting for the GIL behind the gateway writer, the requests and the other
writers; the context switches alone took 0.13-0.15 of a core per app process
(docs/deployment.md, "One thread writes a pass to every socket").

Here the emitting thread encodes a packet's frame once (a server's frames are not masked:
the same bytes for every socket) and writes it to each socket without blocking
(``MSG_DONTWAIT``). What a socket cannot take at once (a console that reads slowly or
stopped reading) waits in that socket's ``Lane``, in order, and the socket's own writer
thread sends it, blocking as long as it must. A slow console never holds up the others;
what it has not taken yet stays in order behind. A lane that holds more than
``MAX_WAITING_BYTES`` belongs to a console that does not read: its socket is shut, and the
console catches up with ``resume`` when it reconnects (E-02).

Everything else an Engine.IO socket sends (pings, no-ops, its close) goes the stock way,
through its queue and writer thread, and reaches the socket through the same lane, so one
lock orders every byte written to the socket. A socket that began as long-polling and was
upgraded keeps the stock path for its messages too (its queue may still hold what the
polling phase left), only its writes go through the lane.

This adapter patches python-engineio 4.x's ``Socket`` and relies on simple-websocket's
``Server`` (``sock``, ``connected``) and on wsproto for the framing; ``install`` checks
those and leaves the stock behaviour, with a warning, when they do not look as expected.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from engineio import packet as eio_packet
from engineio import socket as eio_socket
from wsproto.frame_protocol import FrameProtocol

from tgd.metrics import metrics

log = logging.getLogger(__name__)

# A console whose socket holds this much unsent is not reading (a frozen tab, a dead link
# the kernel has not noticed yet): at a few hundred bytes an event, hours of a normal day.
MAX_WAITING_BYTES = 4 * 1024 * 1024
# How long a writer waits for its socket to take more before it looks again whether the
# connection is still open.
WRITABLE_WAIT_SECONDS = 1.0
_LANE = "_tgd_lane"
_FRAME = "_tgd_frame"


class Lane:
    """One WebSocket's writes: at once when the socket takes them, else in order, later."""

    def __init__(self, sock: socket.socket, is_open: Callable[[], bool]) -> None:
        self._sock = sock
        self._is_open = is_open
        self._lock = threading.Lock()
        self._waiting: deque[bytes] = deque()
        self._waiting_bytes = 0
        self.shut = False

    def offer(self, frame: bytes) -> bool:
        """Write ``frame`` now as far as the socket takes it; True when some of it waits.

        Never blocks on the socket. When this returns True for a lane that had nothing
        waiting, the caller wakes the socket's writer, which sends what waits (``drain``).
        """
        with self._lock:
            if self.shut:
                return False
            was_empty = not self._waiting
            if was_empty:
                frame = frame[self._send_now(frame) :]
                if not frame:
                    return False
            self._waiting.append(frame)
            self._waiting_bytes += len(frame)
            if self._waiting_bytes > MAX_WAITING_BYTES:
                self._shut(f"its console has not read {self._waiting_bytes} bytes")
                return False
        metrics().console_frames_waited.inc()
        return was_empty

    def drain(self) -> None:
        """Send everything that waits, blocking as long as the socket needs (writer thread).

        Raises ``OSError`` once the connection is gone, as simple-websocket's ``send``
        does, so that Engine.IO's writer ends.
        """
        while True:
            with self._lock:
                if self.shut:
                    raise OSError("console socket shut")
                if not self._waiting:
                    return
                chunk = self._waiting[0]
                sent = self._send_now(chunk)
                if self.shut:  # the send failed: the connection is gone
                    raise OSError("console socket shut")
                self._waiting_bytes -= sent
                if sent == len(chunk):
                    self._waiting.popleft()
                    continue
                self._waiting[0] = chunk[sent:]
            self._wait_writable()

    def write(self, frame: bytes) -> None:
        """Write ``frame`` after anything waiting, blocking if need be (writer thread)."""
        self.offer(frame)
        self.drain()

    def _send_now(self, data: bytes) -> int:
        try:
            return self._sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return 0
        except OSError as error:  # reset by the peer, or closed: the reader sees it too
            self._shut(f"send failed: {error}")
            return len(data)

    def _wait_writable(self) -> None:
        poller = select.poll()
        poller.register(self._sock.fileno(), select.POLLOUT)
        while not poller.poll(WRITABLE_WAIT_SECONDS * 1000):
            if not self._is_open():
                with self._lock:
                    self._shut("closed while frames waited")
                return

    def _shut(self, why: str) -> None:
        # Called with the lock held. shutdown() never blocks, unlike a close frame on a
        # full socket: the reader thread then sees the end and Engine.IO closes the socket.
        if self.shut:
            return
        self.shut = True
        self._waiting.clear()
        self._waiting_bytes = 0
        log.info("console socket shut: %s", why)
        metrics().console_sockets_shut.inc()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)


def frame_of(data: str | bytes) -> bytes:
    """A server's WebSocket frame (no mask, no extension) carrying one whole message."""
    return bytes(FrameProtocol(client=False, extensions=[]).send_data(data, fin=True))


def _packet_frame(pkt: eio_packet.Packet) -> bytes:
    # python-socketio builds a room emit's Engine.IO packet once and hands the same object
    # to every socket: its frame is made for the first and reused by the others.
    frame: bytes | None = pkt.__dict__.get(_FRAME)
    if frame is None:
        frame = frame_of(pkt.encode())
        setattr(pkt, _FRAME, frame)
    return frame


def lane_for(ws: Any, *, closed: Callable[[], bool] = lambda: False) -> Lane | None:
    """The lane of an Engine.IO WebSocket wrapper, or None where the stock path must stay.

    ``closed`` says whether Engine.IO closed the socket (a console that stopped answering
    its pings): a writer still waiting for it to read then gives up.

    Only a plain TCP or Unix socket (not TLS: ``MSG_DONTWAIT`` cannot pass through it) with
    no WebSocket extension negotiated (the frames here are not compressed) gets one.
    """
    server: Any = getattr(ws, "ws", None)
    sock = getattr(server, "sock", None)
    if type(sock) is not socket.socket or sock.gettimeout() is not None:
        return None
    protocol = getattr(getattr(getattr(server, "ws", None), "connection", None), "_proto", None)
    if protocol is None or getattr(protocol, "extensions", None) != []:
        return None
    return Lane(sock, lambda: bool(server.connected) and not closed())


_stock_handler = eio_socket.Socket._websocket_handler
_stock_send = eio_socket.Socket.send


def _websocket_handler(self: eio_socket.Socket, ws: Any) -> Any:
    lane = lane_for(ws, closed=lambda: bool(self.closed))
    if lane is None:
        return _stock_handler(self, ws)
    direct = not self.connected  # not an upgrade from long-polling (see the module's doc)

    def send_from_writer(data: Any) -> None:
        if data is not _DRAIN:
            lane.write(frame_of(data))
        else:
            lane.drain()

    ws.send = send_from_writer
    if direct:
        setattr(self, _LANE, lane)
    try:
        return _stock_handler(self, ws)
    finally:
        setattr(self, _LANE, None)


def _send(self: eio_socket.Socket, pkt: eio_packet.Packet) -> None:
    lane: Lane | None = getattr(self, _LANE, None)
    if lane is None or pkt.packet_type != eio_packet.MESSAGE or self.upgrading:
        _stock_send(self, pkt)
        return
    if not self.check_ping_timeout():
        return
    if lane.offer(_packet_frame(pkt)):
        self.queue.put(_DrainPacket())


_DRAIN = object()


class _DrainPacket(eio_packet.Packet):
    """Put on a socket's queue to wake its writer: send what waits in the lane."""

    def __init__(self) -> None:
        super().__init__(eio_packet.NOOP)

    def encode(self, b64: bool = False) -> Any:
        return _DRAIN


_installed = False


def install() -> None:
    """Route Engine.IO's WebSocket messages through lanes (once per process)."""
    global _installed
    if _installed:
        return
    if not _looks_as_expected():
        log.warning("Engine.IO is not as this adapter expects: console frames take the stock path")
        return
    eio_socket.Socket._websocket_handler = _websocket_handler
    eio_socket.Socket.send = _send
    _installed = True


def _looks_as_expected() -> bool:
    from importlib.metadata import version

    import simple_websocket

    return (
        version("python-engineio").startswith("4.")
        and hasattr(simple_websocket.Server, "send")
        and all(hasattr(eio_socket.Socket, n) for n in ("check_ping_timeout", "_websocket_handler"))
    )
