"""Live consoles over Socket.IO (E-02, E-09): authenticated sockets, gapless events, catch-up.

Only this module knows Socket.IO. Services add outbox rows; when a session
that added some commits, the ``Hub`` publishes them and emits them to the consoles'
room. Each event has a gapless ``seq``: on SQLite the committing transaction gave it
(``tgd.db.outbox_order``) and the hub reads what came after the last one it pushed; on
PostgreSQL the hub gives it (``outbox.publish_pending``). Events leave as one
``console_events`` message per pass (a list, in ``seq`` order, at most ``BATCH``
events): under a burst a pass carries many events, so the fan-out to every socket
costs one frame per pass, not one per event. A background loop also publishes
what other processes (the scheduler) added.
A console sends ``resume`` with the last ``seq`` it saw, on every (re)connect,
and receives everything after it, in order; it de-duplicates by ``seq``.
With ``redis_url`` set, emits go through the Redis message queue so a console
connected to any app process receives every event.

E-09 after login: every process keeps the login session of each of its sockets
(``SessionGate``). Before it delivers console events to its sockets, whichever
process emitted them (Redis), it re-reads those sessions in one query (read
only) and leaves out any socket whose session ended (logout, disabled account,
expiry, revocation), then disconnects it; a background sweep does the same
every ``SWEEP_SECONDS`` when no event comes. A logout handled by process A
thus closes a socket held by process B, without any write per event. Each
socket is also a ``ConsolePresence`` row (written on connect and disconnect,
refreshed by its process), so supervisors count the operators of every process.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask, request, session
from flask_socketio import SocketIO, disconnect, emit, join_room
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, SessionTransaction

from dispatch_ui import socket_lanes
from dispatch_ui.security import SESSION_KEY
from tgd.calls_first import let_calls_pass
from tgd.container import Platform
from tgd.db.models.operations import ConsoleEvent
from tgd.db.outbox_order import EVENTS_ADDED, numbers_at_commit
from tgd.db.session import make_quick_read_engine, once_more_if_dropped, read_transaction
from tgd.db.writes import Priority, write_transaction
from tgd.metrics import metrics
from tgd.services import auth, operators, outbox
from tgd.services.policy import Permission, has

log = logging.getLogger(__name__)
ROOM = "console"
POLL_SECONDS = 0.5
# At most one publishing pass per this many seconds: an idle hub publishes a commit at once,
# a hub under a burst gathers what the next 30 ms commit into one pass. Every pass fans out
# to every socket; one pass per gateway batch (up to 50 a second) cost the gateway a third
# of its saturation rate (bench/gateway.py), for no console seeing an alert sooner.
MIN_PASS_SECONDS = 0.03
GATE_MAX_AGE = 0.0  # sessions re-read before every delivery (one read query, no write)
SWEEP_SECONDS = 2.0  # sessions re-read even when no event comes
PRESENCE_SECONDS = 15.0  # this process's presence rows refreshed
# The last published sequence told to this process's consoles: one still behind it a
# second later asks for what it missed (an event numbered, then never pushed).
HEAD_SECONDS = 3.0
HEAD_EVENT = "console_head"
BATCH = 200  # console events per Socket.IO message at most
EVENT = "console_events"  # the live message: a list of events in seq order


def _policy(platform: Platform) -> auth.SessionPolicy:
    security = platform.settings.security
    return auth.SessionPolicy(
        idle=timedelta(minutes=security.idle_timeout_minutes),
        lifetime=timedelta(hours=security.session_lifetime_hours),
    )


@dataclass(frozen=True)
class SocketLogin:
    """Who a socket belongs to: the user and the login session it was opened from."""

    user_id: int
    session_id: int


class SessionGate:
    """E-09: the login session of each socket of this process, re-checked before deliveries.

    On PostgreSQL the check reads through ``reads`` (``make_quick_read_engine``): one round
    trip, where a session of the platform's pool took four; it is on the path of every
    event to every console, in each process.
    """

    def __init__(self, platform: Platform, reads: Engine | None = None) -> None:
        self.platform = platform
        self.reads = reads
        self._lock = threading.Lock()
        self._sockets: dict[str, SocketLogin] = {}
        self._ended: set[str] = set()
        self._checked_at = 0.0

    def add(self, sid: str, login: SocketLogin) -> None:
        """Follow a new socket."""
        with self._lock:
            self._sockets[sid] = login

    def remove(self, sid: str) -> bool:
        """Forget a socket (disconnected); return whether it was followed."""
        with self._lock:
            self._ended.discard(sid)
            return self._sockets.pop(sid, None) is not None

    def users(self) -> dict[str, int]:
        """Return socket id -> user id of the live sockets of this process."""
        with self._lock:
            return {sid: s.user_id for sid, s in self._sockets.items() if sid not in self._ended}

    def ended(self, *, max_age: float) -> set[str]:
        """Return the sockets whose session has ended, re-reading sessions if stale (one query)."""
        with self._lock:
            if time.monotonic() - self._checked_at < max_age:
                return set(self._ended)
            sockets = dict(self._sockets)
        ids = {s.session_id for s in sockets.values()}
        live = once_more_if_dropped(lambda: self._live(ids))
        allowed = {sid for sid, s in sockets.items() if s.session_id in live}
        with self._lock:
            self._ended |= set(sockets) - allowed
            self._checked_at = time.monotonic()
            return set(self._ended)

    def _live(self, ids: set[int]) -> set[int]:
        # A plain connection: half the Python of an ORM session, on every delivery.
        engine = self.reads if self.reads is not None else self.platform.engine
        with engine.connect() as conn:
            return auth.console_sessions(
                conn, ids, policy=_policy(self.platform), clock=self.platform.clock
            )


REDIS_CHECK_SECONDS = 1.0
# After Redis answers again, keep feeding this process's consoles from the database until
# Socket.IO's own listener has surely subscribed again (it retries with a growing delay,
# up to a minute): consoles de-duplicate by seq, so a second copy costs nothing.
REDIS_GRACE_SECONDS = 65.0
# Entering the degraded mode, events published this recently are fed again: Redis is
# noticed gone within a second or two, so nothing emitted into it is missed.
REDIS_REPLAY_SECONDS = 15


class Hub:
    """Publishes committed outbox events to the consoles' room."""

    def __init__(self, socketio: SocketIO, platform: Platform) -> None:
        self.socketio = socketio
        self.platform = platform
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._batch = threading.local()  # the session check shared by one pass's emits
        # PostgreSQL: the reads of every pass, one round trip each (``SessionGate``).
        self.reads = make_quick_read_engine(platform.engine)
        self.gate = SessionGate(platform, self.reads)
        self.process_key = uuid.uuid4().hex
        self._last_sweep = 0.0
        self._last_presence = 0.0
        self._last_head = 0.0
        self._last_pass = 0.0
        # Redis lost (several processes): this process feeds its own consoles from the
        # outbox, from ``_local_seq`` on, until Redis is back and the grace has passed.
        self.redis_url = platform.settings.redis_url
        self.degraded = False
        self._recovered_at: float | None = None
        self._redis_checked_at = 0.0
        self._local_seq = 0
        self._redis: Any = None
        # SQLite: the last sequence this hub pushed (events are numbered as they commit).
        self._emitted: int | None = None
        self._born = platform.clock.now()
        self._strays_checked = 0.0

    @property
    def connected(self) -> dict[str, int]:
        """Socket id -> user id of the live console sockets of this process."""
        return self.gate.users()

    def sweep(self) -> int:
        """Disconnect the sockets whose login session ended (E-09); return how many."""
        ended = self.gate.ended(max_age=0)
        for sid in ended:
            log.info("console socket closed: its session ended")
            try:
                self.socketio.server.disconnect(sid, namespace="/")
            except Exception:  # already gone
                log.debug("socket already disconnected")
            if self.gate.remove(sid):
                metrics().console_connections.dec()
            self.drop_presence(sid)
        return len(ended)

    def refresh_presence(self) -> None:
        """Tell the other processes this one's consoles are still there."""
        with write_transaction(self.platform.sessions, label="console presence") as db:
            operators.refresh_presence(db, process_key=self.process_key, clock=self.platform.clock)

    def add_presence(self, sid: str, login: SocketLogin) -> None:
        """Record a console socket of this process (supervisors count them, E-08)."""
        with write_transaction(
            self.platform.sessions, priority=Priority.PEOPLE, label="console presence"
        ) as db:
            operators.add_presence(
                db,
                process_key=self.process_key,
                sid=sid,
                user_id=login.user_id,
                session_id=login.session_id,
                clock=self.platform.clock,
            )

    def drop_presence(self, sid: str) -> None:
        try:
            with write_transaction(
                self.platform.sessions, priority=Priority.PEOPLE, label="console presence"
            ) as db:
                operators.drop_presence(db, process_key=self.process_key, sid=sid)
        except Exception:  # the refresh forgets stale rows anyway
            log.exception("console presence not removed")

    def deliverable(self, participants: Iterator[tuple[str, str]]) -> Iterator[tuple[str, str]]:
        """Leave out of a delivery the sockets whose session ended (E-09, before every event)."""
        ended = getattr(self._batch, "ended", None)
        if ended is None:
            ended = self.gate.ended(max_age=GATE_MAX_AGE)
        if ended:
            self._wake.set()  # the loop disconnects them
        for sid, eio_sid in participants:
            if sid not in ended:
                yield sid, eio_sid

    def publish(self) -> int:
        """Publish every pending event now; return how many were pushed."""
        if numbers_at_commit(self.platform.engine.dialect.name):
            return self._publish_committed()
        with self._lock:
            events = outbox.publish_pending(
                self.platform.engine, clock=self.platform.clock, reads=self.reads
            )
            if events and (not self.degraded or self._recovered_at is not None):
                self._push(events, through_queue=bool(self.redis_url))
            if self.degraded:
                self._feed_locally()
        return len(events)

    def _publish_committed(self) -> int:
        """SQLite: push the events numbered by the transactions that added them (a read).

        Every process reads them from the database and feeds its own consoles.
        """
        with self._lock:
            now = time.monotonic()
            if now - self._strays_checked >= SWEEP_SECONDS:
                # Events added by a session not made by the factory (none in the platform's
                # own code) are numbered here: looked for now and then, not on every pass.
                self._strays_checked = now
                outbox.publish_pending(self.platform.engine, clock=self.platform.clock)
            with read_transaction(self.platform.sessions) as db:
                if self._emitted is None:  # events committed since this hub was made go out
                    self._emitted = outbox.last_published_before(db, self._born)
                events = outbox.events_since(db, self._emitted)
            if not events:
                return 0
            self._emitted = events[-1].seq
            if len(events) == outbox.BATCH:
                self._wake.set()  # more behind: the next pass takes them
            self._push(events, through_queue=False)
        return len(events)

    def _push(self, events: list[outbox.PublishedEvent], *, through_queue: bool) -> None:
        # The events of one pass leave together: the sessions are checked once for all of
        # them, right before (E-09), not once per event (one query each). Through Redis
        # python-socketio delivers to this process's sockets within the emit, then
        # publishes; each process's delivery checks its sockets' sessions then
        # (``deliverable``), so a check here would be a query for nothing (5 % of a stack
        # process's GIL time). Publishing first, with a write-only emitter, was measured
        # slower (docs/deployment.md).
        if not through_queue:
            self._batch.ended = self.gate.ended(max_age=GATE_MAX_AGE)
        try:
            for chunk in _chunks([e.as_json() for e in events]):
                self.socketio.emit(EVENT, chunk, to=ROOM, ignore_queue=not through_queue)
        finally:
            self._batch.ended = None

    def announce_head(self) -> None:
        """Tell this process's consoles the last published sequence (E-02).

        An event numbered and then never pushed (the database lost in the middle of a
        pass, which then fails) is found by a console at the next event (a gap), or, when
        none comes, by this: a console still behind the head a second later asks again.
        """
        with read_transaction(self.platform.sessions) as db:
            head = outbox.last_published(db)
        self.socketio.emit(HEAD_EVENT, {"seq": head}, to=ROOM, ignore_queue=True)

    def _feed_locally(self) -> None:
        """Emit to this process's consoles, not through Redis, what they have not had."""
        with read_transaction(self.platform.sessions) as db:
            missed = outbox.events_since(db, self._local_seq)
        for chunk in _chunks([e.as_json() for e in missed]):
            self.socketio.emit(EVENT, chunk, to=ROOM, ignore_queue=True)
        if missed:
            self._local_seq = max(self._local_seq, max(e.seq for e in missed))

    def check_redis(self) -> None:
        """Follow Redis (several processes): degrade to the database while it is gone."""
        now = time.monotonic()
        if not self.redis_url or now - self._redis_checked_at < REDIS_CHECK_SECONDS:
            return
        self._redis_checked_at = now
        try:
            if self._redis is None:
                import redis

                self._redis = redis.Redis.from_url(
                    self.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
                )
            self._redis.ping()
        except Exception as exc:  # refused, timed out, reset…
            self._recovered_at = None
            if not self.degraded:
                self._degrade(exc)
            return
        if self.degraded:
            if self._recovered_at is None:
                self._recovered_at = now
                log.warning("console hub: Redis answers again; leaving degraded mode soon")
            elif now - self._recovered_at >= REDIS_GRACE_SECONDS:
                self.degraded = False
                self._recovered_at = None
                metrics().redis_degraded.set(0)
                log.warning("console hub: Redis back; consoles fed through it again")

    def _degrade(self, exc: Exception) -> None:
        # What was emitted through Redis just before it went (by this process or another)
        # may never have arrived: feed again everything published in the last seconds.
        # Consoles ignore a seq they already applied (E-02).
        since = self.platform.clock.now() - timedelta(seconds=REDIS_REPLAY_SECONDS)
        with read_transaction(self.platform.sessions) as db:
            self._local_seq = outbox.last_published_before(db, since)
        self.degraded = True
        metrics().redis_degraded.set(1)
        log.error(
            "console hub: Redis unreachable (%s): consoles of this process are fed from the "
            "database until it is back",
            type(exc).__name__,
        )

    def notify(self) -> None:
        """Note that events were committed: the hub's thread publishes them at once.

        Never in the committing thread: publishing is a write transaction of its own, and
        the request or webhook that committed must answer without waiting for it.
        """
        self._wake.set()

    def start(self) -> None:
        """Start the background loop (events from other processes, retries)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tgd-console-hub", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the background loop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.reads is not None:
            self.reads.dispose()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(POLL_SECONDS)
            since = time.monotonic() - self._last_pass
            if since < MIN_PASS_SECONDS:  # a burst: let the next commits join this pass
                self._stop.wait(MIN_PASS_SECONDS - since)
            self._wake.clear()
            self._last_pass = time.monotonic()
            try:
                let_calls_pass()  # the call being taken is answered first, then shown
                self.check_redis()
                self.publish()
            except Exception:
                log.exception("console hub pass failed; retrying")
            try:
                now = time.monotonic()
                if (
                    self.gate.ended(max_age=SWEEP_SECONDS)
                    or now - self._last_sweep >= SWEEP_SECONDS
                ):
                    self._last_sweep = now
                    self.sweep()
                if now - self._last_presence >= PRESENCE_SECONDS:
                    self._last_presence = now
                    self.refresh_presence()
                if now - self._last_head >= HEAD_SECONDS:
                    self._last_head = now
                    self.announce_head()
            except Exception:
                log.exception("console sessions check failed; retrying")


def _chunks(events: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(events), BATCH):
        yield events[start : start + BATCH]


def _watch_sessions(platform: Platform, hub: Hub) -> None:
    """Publish after every commit that added console events (E-02)."""

    def after_flush(sess: Session, _context: Any) -> None:
        if any(isinstance(obj, ConsoleEvent) for obj in sess.new):
            sess.info[EVENTS_ADDED] = True

    def after_commit(sess: Session) -> None:
        # SQLAlchemy also calls this when a savepoint is released (a webhook's receipt on
        # PostgreSQL is written in one): the rows are not committed yet, so wait for the
        # outermost commit. Notifying at the savepoint published nothing and left the new
        # alert to the hub's next poll, half a second later on every screen.
        if sess.in_nested_transaction():
            return
        if sess.info.pop(EVENTS_ADDED, False):
            hub.notify()

    def after_soft_rollback(sess: Session, previous: SessionTransaction) -> None:
        # A savepoint rolled back must not forget the events committed beside it; a
        # needless notify only costs the hub an empty pass.
        if previous.parent is None:
            sess.info.pop(EVENTS_ADDED, None)

    event.listen(platform.sessions, "after_flush", after_flush)
    event.listen(platform.sessions, "after_commit", after_commit)
    event.listen(platform.sessions, "after_soft_rollback", after_soft_rollback)


def _socket_login(platform: Platform) -> SocketLogin | None:
    """Resolve the socket's HTTPS session to a login allowed on the console (E-09), or None.

    Read only: a socket's events never write (the page's own requests keep the session
    alive).
    """
    token = session.get(SESSION_KEY)
    if not token:
        return None
    with platform.sessions() as db:
        record, _ended = auth.check_session(
            db, token, policy=_policy(platform), clock=platform.clock
        )
        if (
            record is None
            or record.second_factor_at is None
            or not has(record.user, Permission.CONSOLE)
        ):
            return None
        return SocketLogin(record.user_id, record.id)


def _gate_deliveries(socketio: SocketIO, hub: Hub) -> None:
    """Filter every delivery to the consoles' room through the session gate (E-09).

    Whether the event was emitted here or by another process through Redis, python-socketio
    delivers it to this process's sockets through ``manager.get_participants``.
    """
    manager = socketio.server.manager
    original = manager.get_participants

    def get_participants(namespace: str, room: Any) -> Iterator[tuple[str, str]]:
        participants = original(namespace, room)
        if room == ROOM:
            return hub.deliverable(participants)
        return participants  # type: ignore[no-any-return]

    manager.get_participants = get_participants


class SocketIOOnItsPath:
    """WSGI middleware: only Socket.IO's own path goes through Socket.IO's middleware.

    Socket.IO's WSGI middleware (python-engineio's ``WSGIApp``) runs for every request it
    wraps, and under gunicorn it first defines a class to wrap the request's socket in,
    a new class per request: about twelve objects in reference cycles, which only the
    garbage collector frees. Under the overflow burst of ``bench/gateway.py`` (200
    webhooks a second) they were half of the cyclic garbage that made the collector run
    every few seconds, each collection stopping the whole process 13-28 ms with the GIL
    held (docs/gateway.md). Every other request goes straight to the app it wraps, as
    the middleware itself would send it after that class (no static files are served).
    """

    def __init__(self, socketio_app: Any, app: Any) -> None:
        self.socketio_app, self.app = socketio_app, app
        self.path: str = socketio_app.engineio_path  # "/socket.io/", as it matches it

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith(self.path):
            return self.socketio_app(environ, start_response)
        return self.app(environ, start_response)


class UncompressedSockets:
    """WSGI middleware: the consoles' WebSockets are not compressed (no permessage-deflate).

    Browsers offer the extension and simple-websocket accepts it: the server then deflates
    every message once per socket, 100 consoles meaning 100 compressions of each pass.
    Measured (bench/stack.py, embedded, 100 consoles): answer p50 129 ms compressed against
    47 ms not, all consoles p99 293 ms against 122 ms. The events are ids and codes, a few
    hundred bytes, on the centre's own network: compression saves little there. Declining
    it also leaves no compressed stream mixing what a client sent with what it did not
    (the CRIME/BREACH family). Leaving the offer out is how a server declines (RFC 7692).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.app(environ, start_response)


def init_app(app: Flask) -> None:
    """Attach Socket.IO and the hub to the app (``app.extensions['tgd_hub']``)."""
    platform: Platform = app.extensions["tgd"]
    settings = platform.settings
    origins = [settings.public_base_url.rstrip("/"), *settings.security.allowed_origins]
    socket_lanes.install()
    socketio = SocketIO(
        app,
        async_mode="threading",
        message_queue=settings.redis_url or None,
        cors_allowed_origins=origins,  # E-09: the Origin allowlist
        manage_session=False,  # read the Flask session cookie as it is, never write it
        logger=False,
        engineio_logger=False,
    )
    socketio_app: Any = app.wsgi_app  # Socket.IO's middleware, around the app's own
    app.wsgi_app = UncompressedSockets(  # type: ignore[method-assign]
        SocketIOOnItsPath(socketio_app, socketio_app.wsgi_app)
    )
    hub = Hub(socketio, platform)
    app.extensions["tgd_hub"] = hub
    _watch_sessions(platform, hub)
    _gate_deliveries(socketio, hub)

    @socketio.on("connect")
    def _connect(_auth: Any = None) -> bool:
        login = _socket_login(platform)
        if login is None:
            log.info("console socket refused")
            return False
        sid: str = request.sid  # type: ignore[attr-defined]
        hub.gate.add(sid, login)
        hub.add_presence(sid, login)
        join_room(ROOM)
        metrics().console_connections.inc()
        return True

    @socketio.on("disconnect")
    def _disconnect(*_args: Any) -> None:
        sid: str = request.sid  # type: ignore[attr-defined]
        if hub.gate.remove(sid):
            metrics().console_connections.dec()
        hub.drop_presence(sid)

    @socketio.on("resume")
    def _resume(data: Any) -> None:
        # E-09: the session is checked again on every event, not only at connection.
        if _socket_login(platform) is None:
            disconnect()
            return
        after = data.get("after", 0) if isinstance(data, dict) else 0
        after = after if isinstance(after, int) and after >= 0 else 0
        with platform.sessions() as db:
            missed = outbox.events_since(db, after)
            head = outbox.last_published(db)
        # To this socket, held by this process: never through Redis, which may be down.
        emit(
            "caught_up",
            {"events": [e.as_json() for e in missed], "head": head},
            ignore_queue=True,
        )
