"""The door for machines: carrier webhooks, signed terminal data and the terminal simulator."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response

from tgd.container import Platform

log = logging.getLogger(__name__)


def start_replayer(app: Flask) -> Any:
    """Record the spooled calls in the background once the database takes writes (server)."""
    from handset_gateway.spool import Replayer
    from handset_gateway.views import record_spooled

    platform: Platform = app.extensions["tgd"]
    replayer = Replayer(app.extensions["tgd.spool"], lambda call: record_spooled(platform, call))
    replayer.start()
    return replayer


def init_app(app: Flask, *, harden: Callable[[Response], None]) -> None:
    """Serve ``/gateway/`` by the machines' own app (``door``) in front of ``app``.

    Its routes authenticate by signature, not by session and CSRF (R-54); ``harden``
    adds the security headers both doors answer with (E-10).
    """
    from handset_gateway.door import MachineDoor, create_door
    from handset_gateway.spool import Spool

    platform: Platform = app.extensions["tgd"]
    # calls answered while the database takes no write wait here (see spool.py).
    spool = Spool(platform.settings.spool_path, platform.settings.twilio.auth_token)
    app.extensions["tgd.spool"] = spool
    from handset_gateway.db import writer_of
    from handset_gateway.turns import turns
    from tgd.calls_first import calls
    from tgd.metrics import (
        CallsFirstCollector,
        GatewayWriterCollector,
        SpoolCollector,
        WebhookTurnsCollector,
    )

    app.extensions.setdefault("tgd.collectors", []).extend(
        [
            SpoolCollector(spool),
            GatewayWriterCollector(lambda: writer_of(platform).stats),
            CallsFirstCollector(calls.stats),
            WebhookTurnsCollector(turns.stats),
        ]
    )
    door = create_door(app, harden=harden)
    app.extensions["tgd.gateway.door"] = door  # the tests' handle on the machines' app
    from handset_gateway.calls_first import CallsFirstMiddleware

    app.wsgi_app = CallsFirstMiddleware(  # type: ignore[method-assign]
        MachineDoor(app.wsgi_app, door)
    )
    if platform.settings.twilio.backend == "fake" and platform.settings.mode == "development":
        log.info(
            "fake Twilio in-process (no network); trigger an alert with: "
            "tgd simulate alert --line 'M 75 75056 01 1'"
        )
