"""Clocks: the system clock for production, a settable one for tests and simulations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        """Return the current instant, aware, in UTC."""
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (tests, `jobs run --at`)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        """Return the frozen instant."""
        return self._at

    def advance(self, **delta: float) -> None:
        """Move the clock forward by a ``timedelta(**delta)``."""
        self._at += timedelta(**delta)

    def set(self, at: datetime) -> None:
        """Put the clock at an aware instant."""
        self._at = at.astimezone(UTC)
