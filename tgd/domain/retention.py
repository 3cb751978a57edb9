"""Retention dates (R-16, R-16b, R-17): calendar rules in the territory's own time zone (R-34).

"Four months after closure" is a calendar rule: closed on 30 June at 23:30 in
Nouméa, the file is due on 30 October, Nouméa time, whatever UTC says.
Months are added to the local date (the day is clamped to the end of a
shorter month, so 31 October + 4 months is 28 or 29 February) and the local
wall-clock time is kept, across daylight-saving changes.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def add_calendar_months(moment: datetime, months: int, timezone: str) -> datetime:
    """Return ``moment`` plus whole calendar months, counted on the territory's calendar."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required")
    local = moment.astimezone(ZoneInfo(timezone))
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    shifted = local.replace(year=year, month=month, day=day, tzinfo=None)
    return shifted.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def destruction_due_at(closed_at: datetime, timezone: str, months: int = 4) -> datetime:
    """R-16: when a file closed at ``closed_at`` must be destroyed."""
    return add_calendar_months(closed_at, months, timezone)


def reassignable_from(terminated_at: datetime, days: int = 7) -> datetime:
    """R-17: the first instant a line may be assigned again after a termination."""
    return terminated_at + timedelta(days=days)


def effective_closure(
    confirmed_at: datetime, termination_date: date | None, timezone: str
) -> datetime:
    """CCP II.2.4: the file closes at the later of the confirmation and the termination date.

    The navette's "date de résiliation" is a day on the court's calendar: the measure
    ends at its first instant (00:00 local). Quarantine (R-17) and destruction (R-16)
    count from the result, so a termination announced for a later day is not shortened.
    """
    if termination_date is None:
        return confirmed_at
    start = datetime.combine(termination_date, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    return max(confirmed_at, start)
