"""Live consoles over Socket.IO (E-02, E-09): authenticated sockets, gapless events, catch-up.

Only this module knows Socket.IO. Services add outbox rows; when a session
that added some commits, the ``Hub`` publishes them (``outbox.publish_pending``
gives each its gapless ``seq``) and emits them to the consoles' room. A
background loop also publishes what other processes (the scheduler) added.
A console sends ``resume`` with the last ``seq`` it saw, on every (re)connect,
and receives everything after it, in order; it de-duplicates by ``seq``.
With ``redis_url`` set, emits go through the Redis message queue so a console
connected to any app process receives every event.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from flask import Flask, request, session
from flask_socketio import SocketIO, disconnect, emit, join_room
from sqlalchemy import event
from sqlalchemy.orm import Session

from dispatch_ui.security import SESSION_KEY, session_policy
from tgd.container import Platform
from tgd.db.models.operations import ConsoleEvent
from tgd.db.session import read_transaction
from tgd.db.writes import Priority, write_transaction
from tgd.metrics import metrics
from tgd.services import auth, outbox
from tgd.services.policy import Permission, has

log = logging.getLogger(__name__)
ROOM = "console"
POLL_SECONDS = 0.5
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
        self._pending = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.connected: dict[str, int] = {}  # socket id -> user id, in this process
        # Redis lost (several processes): this process feeds its own consoles from the
        # outbox, from ``_local_seq`` on, until Redis is back and the grace has passed.
        self.redis_url = platform.settings.redis_url
        self.degraded = False
        self._recovered_at: float | None = None
        self._checked_at = 0.0
        self._local_seq = 0
        self._redis: Any = None

    def publish(self) -> int:
        """Publish every pending event now; return how many were pushed."""
        with self._lock:
            events = outbox.publish_pending(self.platform.engine, clock=self.platform.clock)
            if not self.degraded or self._recovered_at is not None:
                for published in events:
                    self.socketio.emit("console_event", published.as_json(), to=ROOM)
            if self.degraded:
                self._feed_locally()
        return len(events)

    def _feed_locally(self) -> None:
        """Emit to this process's consoles, not through Redis, what they have not had."""
        with read_transaction(self.platform.sessions) as db:
            missed = outbox.events_since(db, self._local_seq)
        for published in missed:
            self.socketio.emit("console_event", published.as_json(), to=ROOM, ignore_queue=True)
            self._local_seq = max(self._local_seq, published.seq)

    def check_redis(self) -> None:
        """Follow Redis (several processes): degrade to the database while it is gone."""
        now = time.monotonic()
        if not self.redis_url or now - self._checked_at < REDIS_CHECK_SECONDS:
            return
        self._checked_at = now
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
        self._pending.set()
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

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            try:
                self._pending.clear()
                self.check_redis()
                self.publish()
            except Exception:
                log.exception("console hub pass failed; retrying")


def _watch_sessions(platform: Platform, hub: Hub) -> None:
    """Publish after every commit that added console events (E-02)."""

    def after_flush(sess: Session, _context: Any) -> None:
        if any(isinstance(obj, ConsoleEvent) for obj in sess.new):
            sess.info["console_events"] = True

    def after_commit(sess: Session) -> None:
        if sess.info.pop("console_events", False):
            hub.notify()

    def after_rollback(sess: Session) -> None:
        sess.info.pop("console_events", None)

    event.listen(platform.sessions, "after_flush", after_flush)
    event.listen(platform.sessions, "after_commit", after_commit)
    event.listen(platform.sessions, "after_soft_rollback", lambda s, _t: after_rollback(s))


def _socket_user(platform: Platform) -> Any:
    """Resolve the socket's HTTPS session to a user allowed on the console (E-09), or None."""
    token = session.get(SESSION_KEY)
    if not token:
        return None
    with platform.sessions() as db:
        record, ended = auth.check_session(db, token, policy=session_policy(), clock=platform.clock)
        if ended is not None:
            record = None
        user_id = record.user.id if record is not None else None
        allowed = (
            record is not None
            and record.second_factor_at is not None
            and has(record.user, Permission.CONSOLE)
        )
    if ended is not None or (
        record is not None and auth.needs_touch(record, session_policy(), platform.clock)
    ):
        # The session's bookkeeping is a short write of its own, after the read (E-08).
        with write_transaction(
            platform.sessions, priority=Priority.PEOPLE, label="socket session"
        ) as db:
            auth.resolve_session(db, token, policy=session_policy(), clock=platform.clock)
    return user_id if allowed else None


def init_app(app: Flask) -> None:
    """Attach Socket.IO and the hub to the app (``app.extensions['tgd_hub']``)."""
    platform: Platform = app.extensions["tgd"]
    settings = platform.settings
    origins = [settings.public_base_url.rstrip("/"), *settings.security.allowed_origins]
    socketio = SocketIO(
        app,
        async_mode="threading",
        message_queue=settings.redis_url or None,
        cors_allowed_origins=origins,  # E-09: the Origin allowlist
        manage_session=False,  # read the Flask session cookie as it is, never write it
        logger=False,
        engineio_logger=False,
    )
    hub = Hub(socketio, platform)
    app.extensions["tgd_hub"] = hub
    _watch_sessions(platform, hub)

    @socketio.on("connect")
    def _connect(_auth: Any = None) -> bool:
        user_id = _socket_user(platform)
        if user_id is None:
            log.info("console socket refused from %s", request.remote_addr)
            return False
        join_room(ROOM)
        hub.connected[request.sid] = user_id  # type: ignore[attr-defined]
        metrics().console_connections.inc()
        return True

    @socketio.on("disconnect")
    def _disconnect(*_args: Any) -> None:
        if hub.connected.pop(request.sid, None) is not None:  # type: ignore[attr-defined]
            metrics().console_connections.dec()

    @socketio.on("resume")
    def _resume(data: Any) -> None:
        # E-09: the session is checked again on every event, not only at connection.
        if _socket_user(platform) is None:
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
