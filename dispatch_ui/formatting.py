"""Template filters: times in the territory's own time zone (R-34), French formats."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from babel.dates import format_datetime
from flask import Flask
from flask_babel import get_locale, gettext

from tgd.domain import labels
from tgd.settings import NATIONAL_TIMEZONE

# Numbers dialled with a leading 0 from the centre's phones: metropolitan France and the
# overseas departments sharing the French numbering plan.
NATIONAL_REGIONS = frozenset({"FR", "RE", "YT", "GP", "GF", "MQ", "BL", "MF"})


def local_time(
    value: datetime | None, timezone: str = NATIONAL_TIMEZONE, fmt: str = "d MMM y HH:mm"
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


def format_phone(number: str | None) -> str:
    """Format an E.164 number for reading: national form for France, international otherwise.

    ``+33612340001`` becomes ``06 12 34 00 01``; ``+262262001122`` (La Réunion) becomes
    ``0262 00 11 22``; a ``sip:`` address or anything unreadable is returned as it is.
    """
    if not number:
        return ""
    if not number.startswith("+"):
        return number
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    if phonenumbers.region_code_for_number(parsed) in NATIONAL_REGIONS:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def nature_label(nature: object) -> str:
    """Return the nature of an alert in words (issue 13: never the code)."""
    return str(gettext(labels.nature_label(getattr(nature, "value", nature))))  # type: ignore[arg-type]


def orientation_label(orientation: object) -> str:
    """Return the orientation given to an alert in words."""
    return str(gettext(labels.orientation_label(getattr(orientation, "value", orientation))))  # type: ignore[arg-type]


def init_app(app: Flask) -> None:
    """Register the filters."""
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(hours_text, "hours_text")
    app.add_template_filter(format_phone, "phone")
    app.add_template_filter(nature_label, "nature")
    app.add_template_filter(orientation_label, "orientation")
