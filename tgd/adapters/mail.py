"""E-mail: the SMTP intake receiver (aiosmtpd) and the notification sender (smtplib).

``SmtpIntake`` listens on loopback only: the parquets' mail reaches it through
the organisation's own mail relay (which handles TLS, SPF/DKIM and spam), and
each message accepted is handed to a callback that stores it in its own
transaction before the receiver answers ``250`` (nothing is acknowledged that
is not stored). ``SmtpMailer`` sends the parquet's notifications through a
relay; their bodies never hold personal data (R-14, E-11), only the file
number and a link to the portal.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

log = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_MESSAGE_BYTES = 20 * 1024 * 1024


@dataclass
class SmtpMailer:
    """Send through an SMTP relay (no authentication: a loopback or internal relay)."""

    host: str
    port: int
    sender: str
    timeout: float = 10.0

    def send(self, *, to: str, subject: str, body: str) -> None:
        """Send a plain-text message."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(message)


@dataclass
class MemoryMailer:
    """Keep messages in memory (tests and demo without a relay)."""

    sent: list[dict[str, str]] = field(default_factory=list)

    def send(self, *, to: str, subject: str, body: str) -> None:
        """Remember the message."""
        self.sent.append({"to": to, "subject": subject, "body": body})


class _Handler:
    """aiosmtpd handler: store each message through the callback, then accept it."""

    def __init__(self, on_message: Callable[[bytes], int]) -> None:
        self.on_message = on_message

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        try:
            stored = self.on_message(bytes(envelope.original_content or envelope.content))
        except Exception:  # the sender must retry: never answer 250 for a message we lost
            log.exception("intake message could not be stored")
            return "451 Requested action aborted: local error in processing"
        log.info("intake message accepted documents=%s", stored)
        return "250 Message accepted for delivery"


class SmtpIntake:
    """An SMTP receiver on loopback that hands each message to ``on_message``."""

    def __init__(self, on_message: Callable[[bytes], int], *, host: str, port: int) -> None:
        if host not in LOOPBACK:
            raise ValueError("the intake receiver listens on loopback only (use a relay)")
        from aiosmtpd.controller import Controller

        self.controller = Controller(
            _Handler(on_message),
            hostname=host,
            port=port,
            data_size_limit=MAX_MESSAGE_BYTES,
            decode_data=False,
        )

    @property
    def port(self) -> int:
        """Return the port actually listened on."""
        return int(self.controller.port)

    def start(self) -> None:
        """Start listening (in a background thread)."""
        self.controller.start()

    def stop(self) -> None:
        """Stop listening."""
        self.controller.stop()
