"""The production server, in every mode: gunicorn's threaded worker (``gthread``).

Flask-SocketIO serves WebSocket in its ``threading`` mode through
simple-websocket, which takes the raw socket that gunicorn puts in the WSGI
environment (``gunicorn.socket``); a console's WebSocket then holds one of the
worker's threads for its life, so the worker has many (``threads``). One
worker per process: Socket.IO needs every request of a client to reach the
process that holds its session, so the multi-process mode runs several
``tgd run`` processes behind nginx (``ip_hash``), joined by the Redis message
queue, rather than several workers behind one socket.

The platform (engine, cipher, telephony…) is built in the worker, after the
fork (a database connection must never cross a fork); so are the console hub
and, in embedded mode, the scheduler. ``tgd run`` and the Dockerfile serve the
same way.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication

from tgd.settings import Settings

log = logging.getLogger(__name__)

# Garbage collection thresholds of a worker (CPython's default: 700, 10, 10). Measured with
# bench/gateway.py (50 webhooks/s, 50 consoles, escalation on): with the default, objects of
# requests in flight survive the young collections, the old generation grows by a quarter
# about every 30 s, and each full collection of its 250,000 objects holds the GIL for
# 140-200 ms, stalling every request. With 25,000 allocations per young collection, no full
# collection ran in two minutes and the young ones take 12-50 ms (docs/gateway.md).
GC_THRESHOLDS = (25_000, 20, 10)


@dataclass(frozen=True)
class ServerOptions:
    """How ``tgd run`` serves."""

    host: str = "127.0.0.1"
    port: int = 5000
    threads: int = 256  # WebSockets hold a thread each: consoles, plus requests in flight
    scheduler: bool = True  # embedded mode: the jobs and escalation run in this process
    timeout: int = 30
    graceful_timeout: int = 10


class PlatformServer(BaseApplication):  # type: ignore[misc]  # gunicorn is untyped
    """gunicorn, configured from code, serving the TGD app built in its worker."""

    def __init__(self, settings: Settings, options: ServerOptions) -> None:
        self.settings = settings
        self.options = options
        self._stoppers: list[Any] = []
        super().__init__()

    def load_config(self) -> None:
        """Configure gunicorn (no configuration file, no command line of its own)."""
        options = self.options
        config: dict[str, Any] = {
            "bind": [f"{options.host}:{options.port}"],
            "workers": 1,
            "worker_class": "gthread",
            "threads": options.threads,
            "timeout": options.timeout,
            "graceful_timeout": options.graceful_timeout,
            "keepalive": 5,
            "accesslog": None,  # URLs carry ids only, but a log per request is noise
            "errorlog": "-",
            "loglevel": self.settings.log_level.lower(),
            "proc_name": "tgd",
            # gunicorn's control socket is one per user by default: several instances on a
            # host would share it. Nothing here uses it.
            "control_socket_disable": True,
            "post_worker_init": self._worker_started,
            "worker_exit": self._worker_exiting,
            "child_exit": _child_exited,
            "logger_class": _logger_class(self.settings.server.log_format),
        }
        for key, value in config.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the platform and the app in the worker process."""
        from tgd.app import create_app
        from tgd.container import build_platform

        platform = build_platform(self.settings)
        app = create_app(self.settings, platform=platform)
        hub = app.extensions["tgd_hub"]
        hub.start()  # console events of every process, published as they commit
        self._stoppers.append(hub.stop)
        from handset_gateway import start_replayer

        # calls answered while the database took no write are recorded once it does.
        self._stoppers.insert(0, start_replayer(app).stop)
        if self.options.scheduler:
            from tgd.jobs.scheduler import start_embedded

            # Embedded mode: the jobs and escalation run here; with a dedicated
            # `tgd scheduler` process running, the database lease keeps this one standing by.
            scheduler = start_embedded(platform)
            self._stoppers.insert(0, scheduler.shutdown)
        self._stoppers.append(platform.engine.dispose)
        tune_gc()
        return app

    def _worker_started(self, _worker: Any) -> None:
        log.info("TGD worker ready on %s:%s", self.options.host, self.options.port)

    def _worker_exiting(self, _server: Any, _worker: Any) -> None:
        for stop in self._stoppers:
            try:
                stop()
            except Exception:  # stopping goes on: the scheduler's lease expires by itself
                log.exception("stopping %s failed", getattr(stop, "__qualname__", stop))


def tune_gc() -> None:
    """Collect less often, and never scan again what start-up built (it lives as long)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _child_exited(_server: Any, worker: Any) -> None:
    from tgd.metrics import worker_exited

    worker_exited(worker.pid)


def _logger_class(log_format: str) -> type:
    """gunicorn's logger with the redacting filter and the configured format (JSON logs)."""
    from gunicorn.glogging import Logger

    from tgd.logs import harden_handler

    class TgdGunicornLogger(Logger):  # type: ignore[misc]  # gunicorn is untyped
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for handler in self.error_log.handlers:
                harden_handler(handler, log_format, service="app")

    return TgdGunicornLogger


def serve(settings: Settings, options: ServerOptions) -> None:
    """Serve until SIGTERM or SIGINT (gunicorn's master restarts a worker that dies)."""
    PlatformServer(settings, options).run()
