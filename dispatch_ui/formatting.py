"""Template filters: times in the territory's own time zone (R-34), French formats."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Flask
from flask_babel import get_locale


def local_time(
    value: datetime | None, timezone: str = "Europe/Paris", fmt: str = "d MMM y HH:mm"
) -> str:
    """Format an aware UTC datetime in the given territory's zone, with the zone's abbreviation."""
    if value is None:
        return "—"
    zone = ZoneInfo(timezone)
    text = format_datetime(value, fmt, tzinfo=zone, locale=str(get_locale() or "fr"))
    return f"{text} ({value.astimezone(zone).tzname()})"


def init_app(app: Flask) -> None:
    """Register the filters."""
    app.add_template_filter(local_time, "local_time")
