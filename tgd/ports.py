"""Ports: the interfaces services depend on; adapters implement them, tests fake them.

Only ``tgd/app.py`` and the scheduler's builder choose the implementation,
from configuration (STYLE rule 4).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from tgd.adapters.crypto import WrappedKey


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


class EventBus(Protocol):
    """Announces committed changes to consoles (E-02: through the outbox)."""

    def publish(self, kind: str, payload: dict[str, Any], *, territory_id: int | None) -> None:
        """Push one event to the consoles allowed to see it."""
        ...
