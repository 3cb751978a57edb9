"""Times typed by people: the territory's wall clock, stored as aware UTC (R-34, STYLE rule 5).

A form or a command that asks a date and time takes it in the territory's own
time zone and says which one (``zone_label``): an operator in Paris keying in
a call received in Cayenne types Cayenne's time. ``from_local`` turns such a
naive wall-clock time into UTC and refuses a time the zone skips when it moves
to summer time; in the hour repeated in autumn, the first one is meant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tgd.domain.errors import N_, ValidationError


def from_local(value: datetime, timezone: str) -> datetime:
    """Return the aware UTC instant of a wall-clock time in ``timezone`` (aware: kept as is)."""
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    zone = ZoneInfo(timezone)
    aware = value.replace(tzinfo=zone, fold=0)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != value:
        raise ValidationError(
            N_("L'heure %(t)s n'existe pas à %(zone)s (passage à l'heure d'été)."),
            t=value.strftime("%H:%M"),
            zone=timezone,
        )
    return aware.astimezone(UTC)


def parse_local(text: str, timezone: str, *, field: str) -> datetime:
    """Parse an ISO 8601 date and time; without an offset it is the territory's wall clock."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            N_("%(field)s : date et heure ISO 8601 attendues (par exemple 2026-11-23T14:30)."),
            field=field,
        ) from None
    return from_local(value, timezone)


def to_local(value: datetime, timezone: str) -> datetime:
    """Return the naive wall-clock time of an aware instant in ``timezone`` (to fill a form)."""
    return value.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
