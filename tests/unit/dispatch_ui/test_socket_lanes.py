"""A console socket's lane: written at once when the socket takes it, else in order, later."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from engineio import packet as eio_packet
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import FrameProtocol

from dispatch_ui import socket_lanes
from dispatch_ui.socket_lanes import Lane, frame_of, lane_for


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    # Small buffers: a few frames fill them, as a console that stopped reading would.
    for s in (server, client):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    yield server, client
    server.close()
    client.close()


def read_messages(client: socket.socket, count: int) -> list[str]:
    """Read ``count`` whole text messages as a browser's WebSocket would decode them."""
    decoder = FrameProtocol(client=True, extensions=[])
    messages: list[str] = []
    parts: list[str] = []
    while len(messages) < count:
        data = client.recv(65536)
        assert data, "the server side shut the socket"
        decoder.receive_bytes(data)
        for frame in decoder.received_frames():  # a long message comes in several parts
            parts.append(frame.payload)
            if frame.message_finished:
                messages.append("".join(parts))
                parts.clear()
    return messages


def test_a_frame_the_socket_takes_is_written_at_once(pair: tuple[socket.socket, ...]) -> None:
    server, client = pair
    lane = Lane(server, lambda: True)

    assert lane.offer(frame_of("42/console,hello")) is False  # nothing waits
    assert read_messages(client, 1) == ["42/console,hello"]


def test_a_console_that_stops_reading_holds_up_nobody_and_loses_nothing(
    pair: tuple[socket.socket, ...],
) -> None:
    server, client = pair
    lane = Lane(server, lambda: True)
    sent = [f"message {i} " + "x" * 500 for i in range(200)]  # far more than the buffers

    wakes = [lane.offer(frame_of(m)) for m in sent]  # returns while nobody reads

    assert wakes.count(True) == 1  # the writer is woken once, when frames start to wait
    assert wakes.index(True) > 0  # the first frames went at once
    writer = threading.Thread(target=lane.drain)  # the socket's own writer sends the rest
    writer.start()
    assert read_messages(client, len(sent)) == sent  # whole, in order
    writer.join(timeout=5)
    assert not writer.is_alive()


def test_what_comes_after_waiting_frames_waits_behind_them(
    pair: tuple[socket.socket, ...],
) -> None:
    server, client = pair
    lane = Lane(server, lambda: True)
    big = "a" * 200_000
    assert lane.offer(frame_of(big)) is True
    assert lane.offer(frame_of("small")) is False  # already woken; it waits its turn

    writer = threading.Thread(target=lane.write, args=(frame_of("from the writer"),))
    writer.start()
    assert read_messages(client, 3) == [big, "small", "from the writer"]
    writer.join(timeout=5)


def test_a_console_that_never_reads_is_shut(
    pair: tuple[socket.socket, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, client = pair
    monkeypatch.setattr(socket_lanes, "MAX_WAITING_BYTES", 100_000)
    lane = Lane(server, lambda: True)

    for _ in range(30):
        lane.offer(frame_of("y" * 10_000))

    assert lane.shut
    assert lane.offer(frame_of("after")) is False  # dropped: the console will resume
    with pytest.raises(OSError):
        lane.drain()  # the writer ends, as on a closed connection
    client.settimeout(5)
    while client.recv(65536):  # what was written, then the end of the stream
        pass


def test_a_writer_waiting_on_a_connection_that_closed_ends(
    pair: tuple[socket.socket, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _client = pair
    monkeypatch.setattr(socket_lanes, "WRITABLE_WAIT_SECONDS", 0.01)
    is_open = threading.Event()
    is_open.set()
    lane = Lane(server, is_open.is_set)
    lane.offer(frame_of("z" * 200_000))
    is_open.clear()  # the reader saw the connection end

    with pytest.raises(OSError):
        lane.drain()


def test_a_room_emit_frames_its_packet_once() -> None:
    pkt = eio_packet.Packet(eio_packet.MESSAGE, '2/console,["console_events",[]]')

    first = socket_lanes._packet_frame(pkt)

    assert socket_lanes._packet_frame(pkt) is first
    decoder = FrameProtocol(client=True, extensions=[])
    decoder.receive_bytes(first)
    assert [f.payload for f in decoder.received_frames()] == [pkt.encode()]


def _handshaken(*, deflate: bool) -> WSConnection:
    """A server-side wsproto connection after a real handshake, as simple-websocket holds."""
    offer = [PerMessageDeflate()] if deflate else []
    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="tgd", target="/", extensions=offer)))
    assert isinstance(next(server.events()), Request)
    server.send(AcceptConnection(extensions=[PerMessageDeflate()] if deflate else []))
    return server


class _Server:  # simple_websocket.Server's attributes that the adapter reads
    def __init__(self, sock: Any, *, deflate: bool = False) -> None:
        self.sock = sock
        self.connected = True
        self.ws = _handshaken(deflate=deflate)


class _Wrapper:  # Engine.IO's SimpleWebSocketWSGI
    def __init__(self, server: _Server) -> None:
        self.ws = server


def test_only_plain_blocking_sockets_without_extensions_get_a_lane(
    pair: tuple[socket.socket, ...],
) -> None:
    server, _client = pair
    assert lane_for(_Wrapper(_Server(server))) is not None
    assert lane_for(_Wrapper(_Server(server, deflate=True))) is None  # compressed frames
    assert lane_for(object()) is None
    server.settimeout(3)  # a timeout makes CPython poll before sending: it could block
    assert lane_for(_Wrapper(_Server(server))) is None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    with socket.socket() as plain, context.wrap_socket(plain, do_handshake_on_connect=False) as tls:
        assert lane_for(_Wrapper(_Server(tls))) is None


def test_the_frame_is_what_wsproto_itself_sends() -> None:
    from wsproto.connection import Connection

    connection = Connection(ConnectionType.SERVER)
    assert frame_of("événement") == connection.send(TextMessage(data="événement"))


def test_a_writer_gives_up_once_engineio_closed_the_socket(
    pair: tuple[socket.socket, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _client = pair
    monkeypatch.setattr(socket_lanes, "WRITABLE_WAIT_SECONDS", 0.01)
    closed = threading.Event()  # Engine.IO's ``closed``: its pings went unanswered
    lane = lane_for(_Wrapper(_Server(server)), closed=closed.is_set)
    assert lane is not None
    lane.offer(frame_of("w" * 200_000))
    closed.set()

    with pytest.raises(OSError):
        lane.drain()
