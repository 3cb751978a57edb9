"""Reporting periods: a quarter (``2026-Q3``), a half-year (``2026-S1``), a year or a date range.

A period is a range of calendar days, read in the territory's time zone
(R-34): ``bounds`` turns it into UTC instants for the queries. A period that
has not started yet is refused; one still running is accepted and marked
provisional, because the preparatory report is due before the meeting, so
often before the quarter ends (R-41).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tgd.domain.errors import N_, ValidationError

_PERIOD_RE = re.compile(r"^\s*(\d{4})(?:-?(Q|T|S|H)([1-4]))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    """Calendar days ``start`` to ``end`` inclusive, with the label shown in documents."""

    start: date
    end: date
    label: str
    code: str  # for file names: 2026-T3, 2026-S1, 2026-01-01_2026-03-31

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        """Return the UTC instants [start, end) of the period in the given zone."""
        zone = ZoneInfo(timezone)
        first = datetime.combine(self.start, time(0), tzinfo=zone)
        after = datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=zone)
        return first.astimezone(UTC), after.astimezone(UTC)

    @property
    def days(self) -> int:
        """Number of calendar days in the period."""
        return (self.end - self.start).days + 1


def quarter(year: int, number: int) -> Period:
    """Return the quarter ``number`` (1-4) of ``year``."""
    start = date(year, 3 * number - 2, 1)
    end = _last_day(year, 3 * number)
    return Period(
        start, end, f"{number}{'er' if number == 1 else 'e'} trimestre {year}", f"{year}-T{number}"
    )


def half_year(year: int, number: int) -> Period:
    """Return the half-year ``number`` (1-2) of ``year``."""
    start = date(year, 6 * number - 5, 1)
    end = _last_day(year, 6 * number)
    return Period(
        start, end, f"{number}{'er' if number == 1 else 'nd'} semestre {year}", f"{year}-S{number}"
    )


def date_range(start: date, end: date) -> Period:
    """Return the range of days from ``start`` to ``end`` inclusive."""
    if end < start:
        raise ValidationError(
            N_("Période inversée : le %(end)s précède le %(start)s."),
            start=start.strftime("%d/%m/%Y"),
            end=end.strftime("%d/%m/%Y"),
        )
    label = f"du {start.strftime('%d/%m/%Y')} au {end.strftime('%d/%m/%Y')}"
    return Period(start, end, label, f"{start.isoformat()}_{end.isoformat()}")


def parse_period(text: str) -> Period:
    """Parse ``2026-Q3`` (or ``2026-T3``), ``2026-S1`` (or ``2026-H1``) or ``2026``."""
    match = _PERIOD_RE.match(text or "")
    if match is None:
        raise ValidationError(
            N_("Période « %(text)s » non reconnue : attendu 2026-T3, 2026-Q3, 2026-S1 ou 2026."),
            text=(text or "")[:20],
        )
    year = int(match.group(1))
    kind, number = (match.group(2) or "").upper(), int(match.group(3) or 0)
    if not kind:
        return Period(date(year, 1, 1), date(year, 12, 31), f"année {year}", str(year))
    if kind in ("Q", "T"):
        return quarter(year, number)
    if number > 2:
        raise ValidationError(N_("Un semestre est S1 ou S2."))
    return half_year(year, number)


def parse_day(text: str) -> date:
    """Parse a day given as ``2026-07-01`` or ``01/07/2026``."""
    value = (text or "").strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValidationError(
        N_("Date « %(text)s » non reconnue : attendu AAAA-MM-JJ ou JJ/MM/AAAA."), text=value[:20]
    )


def checked(period: Period, *, today: date) -> tuple[Period, bool]:
    """Refuse a period that has not begun; clip one still running to today (provisional)."""
    if period.start > today:
        raise ValidationError(
            N_("La période %(label)s n'a pas commencé : aucun rapport possible."),
            label=period.label,
        )
    if period.end >= today:
        return Period(period.start, today, period.label, period.code), True
    return period, False


def previous_quarter(today: date) -> Period:
    """Return the last complete quarter before ``today`` (the usual committee period)."""
    number = (today.month - 1) // 3 + 1
    return quarter(today.year, number - 1) if number > 1 else quarter(today.year - 1, 4)


def _last_day(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)
