"""The fallback process (E-05): answers the carrier when the platform does not, keeps the call.

Twilio calls the number's *Fallback URL* when the platform's voice webhook fails
(no answer within its timeout, a connection error, an HTTP error). This process
serves that URL, apart from the platform: the standard library's threaded HTTP
server, no database, no Flask, no Redis. For a signed call it

1. writes the call to the host's spool (``handset_gateway/spool.py``: encrypted,
   ``fsync``'d), so the platform records it as an alert once it is back (the
   app processes replay the spool; the carrier's call id keeps it once);
2. answers TwiML that bridges the caller: dialled on to ``alerts.overflow_number``
   (the backup centre) when configured, else into a fresh opaque conference, the
   one recorded with the alert, which the operator joins when claiming it.

Even when the spool cannot be written the caller is bridged (and it is logged as
CRITICAL). ``GET /healthz`` answers 200. ``tgd fallback --host H --port P`` runs it.
"""

from __future__ import annotations

import logging
import signal
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from twilio.request_validator import RequestValidator

from handset_gateway import twiml
from handset_gateway.spool import Spool, SpooledCall, now_iso
from tgd.services.alerts import new_conference_name, normalise_number
from tgd.services.dispatch import carrier_callbacks
from tgd.settings import Settings

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


class FallbackServer(ThreadingHTTPServer):
    """The HTTP server, holding what its handler needs."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], settings: Settings, public_url: str) -> None:
        self.settings = settings
        self.public_url = public_url
        self.validator = RequestValidator(settings.twilio.auth_token)
        self.spool = Spool(settings.spool_path, settings.twilio.auth_token, role="fallback")
        self.callbacks = carrier_callbacks(settings.twilio.public_base_url)
        self.answered = 0
        self._count = threading.Lock()
        super().__init__(address, FallbackHandler)

    def answer(self, form: dict[str, str]) -> str:
        """Keep the call in the spool and return the TwiML that bridges the caller."""
        overflow = self.settings.alerts.overflow_number or None
        conference = new_conference_name()
        call_sid = form.get("CallSid", "")
        try:
            if not call_sid:
                raise ValueError("no CallSid")
            self.spool.append(
                SpooledCall(
                    call_sid=call_sid,
                    from_number=normalise_number(form.get("From")),
                    to_number=normalise_number(form.get("To")),
                    conference=None if overflow else conference,
                    dial=overflow,
                    received_at=now_iso(),
                    source="fallback",
                )
            )
            log.error(
                "fallback: the platform did not answer (carrier error %s); call %s kept in the "
                "spool, caller bridged",
                form.get("ErrorCode", "?"),
                call_sid,
            )
        except Exception as exc:  # the caller is bridged whatever happens
            log.critical(
                "FALLBACK: ALERT NOT RECORDED (%s: %s); caller bridged (overflow number "
                "configured=%s, conference=%s)",
                type(exc).__name__,
                str(exc)[:120],
                bool(overflow),
                conference,
            )
        with self._count:
            self.answered += 1
        return twiml.fallback(overflow, conference, self.callbacks)


class FallbackHandler(BaseHTTPRequestHandler):
    """``POST <fallback URL>`` (signed by the carrier) and ``GET /healthz``."""

    server: FallbackServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/healthz":
            self._send(HTTPStatus.OK, "application/json", b'{"status":"ok"}')
        else:
            self._send(HTTPStatus.NOT_FOUND, "application/json", b'{"error":"not_found"}')

    def do_POST(self) -> None:
        public = urllib.parse.urlsplit(self.server.public_url)
        if self.path.split("?", 1)[0] != (public.path or "/"):
            self._send(HTTPStatus.NOT_FOUND, "application/json", b'{"error":"not_found"}')
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "application/json", b"{}")
            return
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
        url = self.server.public_url + (f"?{public.query}" if public.query else "")
        signature = self.headers.get("X-Twilio-Signature", "")
        if not signature or not self.server.validator.validate(url, form, signature):
            log.warning("fallback: unsigned or badly signed request refused")
            self._send(HTTPStatus.FORBIDDEN, "application/json", b'{"error":"bad_signature"}')
            return
        body = self.server.answer(form).encode()
        self._send(HTTPStatus.OK, "text/xml", body)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # no access log: the request line carries nothing useful, the body is personal


def serve(settings: Settings, host: str, port: int, public_url: str = "") -> None:
    """Serve the fallback until SIGTERM or SIGINT."""
    url = public_url or settings.server.fallback_url or f"http://{host}:{port}/voice"
    server = FallbackServer((host, port), settings, url)
    log.info("fallback serving %s on %s:%s", urllib.parse.urlsplit(url).path, host, port)

    def _stop(_signum: int, _frame: Any) -> None:  # finish the answers in progress, then stop
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
