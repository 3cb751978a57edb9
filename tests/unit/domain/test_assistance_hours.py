"""The assistance centre's opening hours on each territory's clock and calendar (R-18, CCP X.4)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tgd.domain.assistance_hours import AssistanceHours, calendar_of, holiday_name

PARIS = AssistanceHours("75", "Europe/Paris")
CAYENNE = AssistanceHours("973", "America/Cayenne")
REUNION = AssistanceHours("974", "Indian/Reunion")
MAYOTTE = AssistanceHours("976", "Indian/Mayotte")


def local(hours: AssistanceHours, *args: int) -> datetime:
    """Return a wall-clock time of the territory as an aware UTC instant."""
    return datetime(*args, tzinfo=ZoneInfo(hours.timezone)).astimezone(UTC)  # type: ignore[misc]


def test_a_report_on_saturday_at_17_59_in_cayenne_is_taken_at_once() -> None:
    received = local(CAYENNE, 2026, 11, 21, 17, 59)  # a Saturday
    assert CAYENNE.is_open(received)
    assert CAYENNE.clock_start(received) == received


def test_a_report_on_saturday_at_18_01_in_cayenne_waits_for_monday_nine() -> None:
    received = local(CAYENNE, 2026, 11, 21, 18, 1)
    assert not CAYENNE.is_open(received)
    assert CAYENNE.clock_start(received) == local(CAYENNE, 2026, 11, 23, 9, 0)


def test_cayenne_hours_are_cayenne_wall_clock_not_paris() -> None:
    # 13:30 in Paris on a Monday of November is 09:30 in Cayenne: both open, but 08:30 Cayenne
    # (12:30 Paris) is before Cayenne's opening.
    assert not CAYENNE.is_open(local(PARIS, 2026, 11, 23, 12, 30))
    assert PARIS.is_open(local(PARIS, 2026, 11, 23, 12, 30))


def test_20_december_is_a_holiday_in_la_reunion_only() -> None:
    day = date(2027, 12, 20)  # a Monday
    assert holiday_name("974", day) == "Abolition de l'esclavage"
    assert holiday_name("75", day) is None and holiday_name("976", day) is None
    received = local(REUNION, 2027, 12, 20, 10, 0)
    assert not REUNION.is_open(received)
    assert REUNION.clock_start(received) == local(REUNION, 2027, 12, 21, 9, 0)
    assert PARIS.is_open(local(PARIS, 2027, 12, 20, 10, 0))


def test_27_april_is_a_holiday_in_mayotte_only() -> None:
    day = date(2026, 4, 27)  # a Monday
    assert holiday_name("976", day) == "Abolition de l'esclavage"
    assert holiday_name("974", day) is None and holiday_name("75", day) is None
    received = local(MAYOTTE, 2026, 4, 27, 11, 0)
    assert MAYOTTE.clock_start(received) == local(MAYOTTE, 2026, 4, 28, 9, 0)
    assert REUNION.is_open(local(REUNION, 2026, 4, 27, 11, 0))


@pytest.mark.parametrize(
    ("code", "day", "name"),
    [
        ("971", date(2026, 5, 27), "Abolition de l'esclavage"),  # Guadeloupe
        ("972", date(2026, 5, 22), "Abolition de l'esclavage"),  # Martinique
        ("973", date(2026, 6, 10), "Abolition de l'esclavage"),  # Guyane
        ("974", date(2026, 12, 20), "Abolition de l'esclavage"),  # La Réunion
        ("976", date(2026, 4, 27), "Abolition de l'esclavage"),  # Mayotte
        ("986", date(2026, 7, 29), "Fête du Territoire"),  # Wallis-et-Futuna
        ("987", date(2026, 11, 20), "Matāri'i"),  # Polynésie française
        ("988", date(2026, 9, 24), "Fête de la Citoyenneté"),  # Nouvelle-Calédonie
        ("57", date(2026, 12, 26), "Saint-Étienne"),  # Moselle
        ("67", date(2026, 4, 3), "Vendredi saint"),  # Bas-Rhin
    ],
)
def test_each_territory_has_its_own_days(code: str, day: date, name: str) -> None:
    assert holiday_name(code, day) == name
    assert holiday_name("75", day) is None  # not a holiday in Paris


@pytest.mark.parametrize(
    ("code", "calendar"),
    [
        ("971", ("GP", None)),
        ("972", ("MQ", None)),
        ("973", ("GF", None)),
        ("974", ("RE", None)),
        ("975", ("PM", None)),
        ("976", ("YT", None)),
        ("977", ("BL", None)),
        ("978", ("MF", None)),
        ("986", ("WF", None)),
        ("987", ("PF", None)),
        ("988", ("NC", None)),
        ("57", ("FR", "57")),
        ("68", ("FR", "6AE")),
        ("2A", ("FR", None)),
        ("75", ("FR", None)),
    ],
)
def test_each_territory_reads_its_own_calendar(code: str, calendar: tuple[str, str | None]) -> None:
    assert calendar_of(code) == calendar


def test_national_holidays_close_every_territory() -> None:
    for code in ("75", "971", "975", "988"):
        assert holiday_name(code, date(2026, 7, 14)) == "Fête nationale"


def test_sunday_is_closed_and_the_clock_waits_for_monday() -> None:
    sunday = local(PARIS, 2026, 11, 22, 11, 0)
    assert not PARIS.is_open(sunday)
    assert PARIS.clock_start(sunday) == local(PARIS, 2026, 11, 23, 9, 0)


def test_nine_opens_and_eighteen_closes() -> None:
    assert PARIS.is_open(local(PARIS, 2026, 11, 23, 9, 0))
    assert not PARIS.is_open(local(PARIS, 2026, 11, 23, 8, 59))
    assert not PARIS.is_open(local(PARIS, 2026, 11, 23, 18, 0))


def test_24_opening_hours_from_saturday_afternoon_end_on_wednesday() -> None:
    # Saturday 17:00 → 1 h; Monday 9 h; Tuesday 9 h; Wednesday 5 h: 14:00.
    start = local(PARIS, 2026, 11, 21, 17, 0)
    assert PARIS.swap_deadline(start) == local(PARIS, 2026, 11, 25, 14, 0)


def test_a_holiday_in_the_week_pushes_the_deadline() -> None:
    # Monday 13 July 2026 at 9:00; 14 July is closed: Monday 9, Wednesday 9, Thursday 6.
    start = local(PARIS, 2026, 7, 13, 9, 0)
    assert PARIS.swap_deadline(start) == local(PARIS, 2026, 7, 16, 15, 0)


def test_opening_time_between_counts_only_opening_hours() -> None:
    start, end = local(PARIS, 2026, 11, 19, 10, 30), local(PARIS, 2026, 11, 23, 10, 30)
    assert PARIS.opening_time_between(start, end) == timedelta(hours=27)
    assert PARIS.opening_time_between(end, start) == timedelta(0)


def test_the_summer_time_change_does_not_change_opening_hours() -> None:
    # Saturday 28 March 2026 9:00 to Monday 30 March 18:00, across the change of Sunday night.
    start, end = local(PARIS, 2026, 3, 28, 9, 0), local(PARIS, 2026, 3, 30, 18, 0)
    assert PARIS.opening_time_between(start, end) == timedelta(hours=18)


def test_deadline_and_measure_agree() -> None:
    start = local(REUNION, 2026, 11, 20, 16, 45)
    deadline = REUNION.add_opening_hours(start, 24)
    assert REUNION.opening_time_between(start, deadline) == timedelta(hours=24)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        PARIS.is_open(datetime(2026, 11, 23, 10, 0))  # naive: the point of the test
