"""Template filters: times in the territory's own time zone (R-34), French formats."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Flask
from flask_babel import get_locale, gettext


def local_time(
    value: datetime | None, timezone: str = "Europe/Paris", fmt: str = "d MMM y HH:mm"
) -> str:
    """Format an aware UTC datetime in the given territory's zone, with the zone's abbreviation."""
    if value is None:
        return "—"
    zone = ZoneInfo(timezone)
    text = format_datetime(value, fmt, tzinfo=zone, locale=str(get_locale() or "fr"))
    return f"{text} ({value.astimezone(zone).tzname()})"


def zone_label(place: str, timezone: str) -> str:
    """Name the zone a form's times are typed in, e.g. « heure de La Réunion (Indian/Reunion) »."""
    return str(gettext("heure de %(place)s (%(zone)s)", place=place, zone=timezone))


def hours_text(value: timedelta | None) -> str:
    """Format a duration as hours and minutes, e.g. « 12 h 05 » (negative: « −3 h 00 »)."""
    if value is None:
        return "—"
    minutes = round(value.total_seconds() / 60)
    sign = "−" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours} h {rest:02d}"


def init_app(app: Flask) -> None:
    """Register the filters."""
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(hours_text, "hours_text")
