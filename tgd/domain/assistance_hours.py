"""Opening hours of the terminals' assistance centre and their clock (R-18; CCP X.4, Annexe 2 I).

The assistance centre that parquets and associations call about a faulty
terminal (chantier 1) "est accessible de 9h à 18h du lundi au samedi"
(Annexe 2, I) and, per CCP X.4, "doit pouvoir être joint sur les périodes
ouvrables qui s'étendent du lundi au samedi de 9 heures à 18 heures (…) sur la
base du lieu d'exécution des prestations, à l'exception des jours fériés et
chômés" (Code du travail L.3133-1 and L.3133-4). So the hours are the
territory's wall clock, and the holidays are that territory's own: the
abolition of slavery in each overseas département (27 April in Mayotte,
20 December in La Réunion…), Good Friday and Saint Stephen's Day in
Alsace-Moselle, Matāri'i in Polynesia, and so on. They come from the
maintained ``holidays`` package rather than a list of our own.

Delays: X.4 is the contract's "précisions relatives aux délais" and it defines
the chantier's working periods, so the 24-hour swap of Annexe 2, I.4 is
counted in these opening hours (24 opening hours, about two and a half
working days), from the moment the clock starts: reception during opening
hours, else the next opening (a report made on Saturday evening starts its
clock on Monday 9:00). Everything here is pure: aware datetimes in, aware UTC
datetimes out.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

OPENS = time(9, 0)
CLOSES = time(18, 0)
OPEN_WEEKDAYS = frozenset(range(6))  # Monday (0) to Saturday (5)
SWAP_DEADLINE_HOURS = 24  # Annexe 2, I.4: "dans un délai maximum de 24 heures" (opening hours)
# A territory has at most a few holidays in a row: a search for the next opening that finds
# none within this many days means a bug, not a long weekend.
_SEARCH_DAYS = 60

# Territory (département or collectivity code, DESIGN §3) -> (country, subdivision) in the
# ``holidays`` package. Overseas territories are countries of their own there (their
# calendars equal France's subdivisions of the same name); Moselle and Alsace (Bas-Rhin,
# Haut-Rhin) are France's subdivisions "57" and "6AE"; every other département is France.
_CALENDARS: dict[str, tuple[str, str | None]] = {
    "971": ("GP", None),  # Guadeloupe
    "972": ("MQ", None),  # Martinique
    "973": ("GF", None),  # Guyane
    "974": ("RE", None),  # La Réunion
    "975": ("PM", None),  # Saint-Pierre-et-Miquelon
    "976": ("YT", None),  # Mayotte
    "977": ("BL", None),  # Saint-Barthélemy
    "978": ("MF", None),  # Saint-Martin
    "986": ("WF", None),  # Wallis-et-Futuna
    "987": ("PF", None),  # Polynésie française
    "988": ("NC", None),  # Nouvelle-Calédonie
    "57": ("FR", "57"),  # Moselle
    "67": ("FR", "6AE"),  # Bas-Rhin
    "68": ("FR", "6AE"),  # Haut-Rhin
}


def calendar_of(territory_code: str) -> tuple[str, str | None]:
    """Return the (country, subdivision) of a territory in the ``holidays`` package."""
    return _CALENDARS.get(territory_code.strip().upper(), ("FR", None))


@functools.lru_cache(maxsize=256)
def _holidays(territory_code: str, year: int) -> dict[date, str]:
    country, subdiv = calendar_of(territory_code)
    found = holidays.country_holidays(country, subdiv=subdiv, years=year, language="fr")
    return dict(found.items())


def holiday_name(territory_code: str, day: date) -> str | None:
    """Return the French name of the territory's public holiday on ``day``, if it is one."""
    return _holidays(territory_code, day.year).get(day)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required")
    return moment


@dataclass(frozen=True)
class AssistanceHours:
    """The assistance centre's opening hours on one territory's calendar and wall clock."""

    territory_code: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        """Return the territory's time zone."""
        return ZoneInfo(self.timezone)

    def is_open_day(self, day: date) -> bool:
        """Tell whether the centre opens on this local day (Monday–Saturday, not a holiday)."""
        return day.weekday() in OPEN_WEEKDAYS and holiday_name(self.territory_code, day) is None

    def opening_of(self, day: date) -> tuple[datetime, datetime] | None:
        """Return the day's opening and closing instants (UTC), or None when it is closed."""
        if not self.is_open_day(day):
            return None
        zone = self.zone
        opens = datetime.combine(day, OPENS, tzinfo=zone).astimezone(UTC)
        closes = datetime.combine(day, CLOSES, tzinfo=zone).astimezone(UTC)
        return opens, closes

    def local_day(self, moment: datetime) -> date:
        """Return the territory's calendar day of an instant."""
        return _aware(moment).astimezone(self.zone).date()

    def is_open(self, moment: datetime) -> bool:
        """Tell whether the centre is open at this instant (9:00 included, 18:00 excluded)."""
        window = self.opening_of(self.local_day(moment))
        return window is not None and window[0] <= moment < window[1]

    def clock_start(self, received_at: datetime) -> datetime:
        """Return when a report's clock starts: at reception if open, else the next opening."""
        received = _aware(received_at).astimezone(UTC)
        day = self.local_day(received)
        for _ in range(_SEARCH_DAYS):
            window = self.opening_of(day)
            if window is not None and received < window[1]:
                return max(received, window[0])
            day += timedelta(days=1)
        raise RuntimeError(f"no opening within {_SEARCH_DAYS} days for {self.territory_code}")

    def add_opening_hours(self, start: datetime, hours: float) -> datetime:
        """Return the instant when ``hours`` opening hours have run from ``start`` (R-18)."""
        left = timedelta(hours=hours)
        moment = self.clock_start(start)
        day = self.local_day(moment)
        for _ in range(_SEARCH_DAYS * 8):
            window = self.opening_of(day)
            if window is not None and moment < window[1]:
                begin = max(moment, window[0])
                if begin + left <= window[1]:
                    return begin + left
                left -= window[1] - begin
            day += timedelta(days=1)
        raise RuntimeError(f"deadline out of reach for {self.territory_code}")

    def opening_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Return how much opening time lies in [start, end) (zero when ``end`` <= ``start``)."""
        start, end = _aware(start).astimezone(UTC), _aware(end).astimezone(UTC)
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        day, last = self.local_day(start), self.local_day(end)
        while day <= last:
            window = self.opening_of(day)
            if window is not None:
                begin, finish = max(start, window[0]), min(end, window[1])
                if finish > begin:
                    total += finish - begin
            day += timedelta(days=1)
        return total

    def swap_deadline(self, received_at: datetime) -> datetime:
        """Return the latest instant for a swap under warranty (24 opening hours, R-18)."""
        return self.add_opening_hours(received_at, SWAP_DEADLINE_HOURS)
