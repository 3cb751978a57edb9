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
from typing import Any

from flask import Flask, request, session
from flask_socketio import SocketIO, disconnect, emit, join_room
from sqlalchemy import event
from sqlalchemy.orm import Session

from dispatch_ui.security import SESSION_KEY, session_policy
from tgd.container import Platform
from tgd.db.models.operations import ConsoleEvent
from tgd.db.writes import Priority, write_transaction
from tgd.services import auth, outbox
from tgd.services.policy import Permission, has

log = logging.getLogger(__name__)
ROOM = "console"
POLL_SECONDS = 0.5


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

    def publish(self) -> int:
        """Publish every pending event now; return how many were pushed."""
        with self._lock:
            events = outbox.publish_pending(self.platform.engine, clock=self.platform.clock)
            for published in events:
                self.socketio.emit("console_event", published.as_json(), to=ROOM)
        return len(events)

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
        return True

    @socketio.on("disconnect")
    def _disconnect(*_args: Any) -> None:
        hub.connected.pop(request.sid, None)  # type: ignore[attr-defined]

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
        emit("caught_up", {"events": [e.as_json() for e in missed], "head": head})
