"""Ports: the interfaces services depend on; adapters implement them, tests fake them.

Only the composition root (``tgd/container.py``; the CLI for the mailer, whose
relay is given on the command line) chooses the implementation, from
configuration (STYLE rule 4). Console events need no port: services add rows to the
outbox (``events.add_event``) in their own transaction, and the console hub pushes
them after the commit (``tgd/services/outbox.py``, E-02).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from tgd.adapters.crypto import MasterKeyRing, WrappedKey
from tgd.domain.geocoding import GeocodeMatch


class Clock(Protocol):
    """Tells the time; services never call ``datetime.now`` themselves (STYLE rule 5)."""

    def now(self) -> datetime:
        """Return the current instant, aware, in UTC."""
        ...


class Cipher(Protocol):
    """Encrypts personal fields under per-file data keys (R-52)."""

    def new_data_key(self) -> WrappedKey:
        """Create a data key wrapped under the current master key."""
        ...

    def rewrap(self, key: WrappedKey) -> WrappedKey:
        """Re-wrap a data key under the current master key."""
        ...

    def forget(self, key: WrappedKey) -> None:
        """Drop an unwrapped key from memory (after destruction)."""
        ...

    def encrypt_text(self, key: WrappedKey, text: str | None, *, aad: bytes) -> bytes | None:
        """Encrypt a text bound to its place (``aad``)."""
        ...

    def decrypt_text(self, key: WrappedKey, blob: bytes | None, *, aad: bytes) -> str | None:
        """Decrypt a text made by ``encrypt_text``."""
        ...

    def encrypt_json(self, key: WrappedKey, value: Any, *, aad: bytes) -> bytes:
        """Encrypt a JSON-serialisable value bound to its place."""
        ...

    def decrypt_json(self, key: WrappedKey, blob: bytes, *, aad: bytes) -> Any:
        """Decrypt a value made by ``encrypt_json``."""
        ...


@runtime_checkable
class KeyRotatingCipher(Cipher, Protocol):
    """A cipher that follows a master key ring it can replace (rotation, R-52)."""

    @property
    def ring(self) -> MasterKeyRing:
        """The master keys in use, the current one first."""
        ...

    def save(self, ring: MasterKeyRing) -> None:
        """Store a new ring (where every process will see it) and use it at once."""
        ...


class PasswordHasher(Protocol):
    """Hashes and checks account passwords (R-50) at the cost the configuration chose."""

    @property
    def profile(self) -> str:
        """Name the cost: "standard", or "fast" (the test suite only)."""
        ...

    def hash(self, password: str) -> str:
        """Hash a password at today's cost."""
        ...

    def verify(self, password_hash: str, password: str) -> bool:
        """Check a password against a hash, in constant time; a malformed hash never matches."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """Tell whether a hash was made with other parameters than today's."""
        ...

    def dummy_verify(self, password: str) -> None:
        """Spend what ``verify`` costs with no hash to check (an unknown username, R-50)."""
        ...


class TelephonyError(Exception):
    """The carrier refused or could not be reached; the message names no number.

    ``code`` is a short code word kept on the leg (``CallLeg.failure``) and shown in
    French by the console: ``refused:<HTTP status>:<carrier code>`` when the carrier
    answered with an error, ``unreachable`` when it could not be reached.
    """

    def __init__(self, message: str, *, code: str = "unreachable") -> None:
        super().__init__(message)
        self.code = code


class Telephony(Protocol):
    """Places legs into conference bridges and sends SMS through the carrier (R-24, R-28)."""

    def add_participant(
        self,
        conference: str,
        *,
        to: str,
        from_: str,
        end_conference_on_exit: bool,
        status_callback: str,
        conference_status_callback: str,
        label: str | None = None,
    ) -> str:
        """Dial ``to`` into a conference (SID or opaque name); return the new leg's call id.

        ``label`` names the participant in the carrier's conference events (our leg id).
        """
        ...

    def remove_participant(self, conference_sid: str, call_sid: str) -> None:
        """Take one leg out of a conference without ending it."""
        ...

    def hang_up(self, call_sid: str) -> None:
        """End one call."""
        ...

    def send_sms(self, *, to: str, from_: str, body: str) -> str:
        """Send an SMS; return the carrier's message id."""
        ...


class GeocoderUnavailable(Exception):
    """The geocoder could not answer now (network, timeout, quota): try again later."""


class Geocoder(Protocol):
    """Turns a postal address into a point with its match quality (R-25); network I/O."""

    def geocode(self, address: str) -> GeocodeMatch | None:
        """Return the best match, None when unknown; ``GeocoderUnavailable`` when unreachable."""
        ...


class Mailer(Protocol):
    """Sends one plain-text e-mail (the parquet's notifications, R-14)."""

    def send(self, *, to: str, subject: str, body: str) -> None:
        """Send a message; raise ``OSError`` or ``smtplib.SMTPException`` on failure."""
        ...


# a copy of each audit anchor line sent off the database's host (syslog, a log store),
# where whoever can rewrite the database cannot rewrite the anchors.
AnchorCopy = Callable[[str], None]
