"""Reporting periods (R-41, R-34): quarters, half-years, ranges, refused and provisional periods."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tgd.domain.errors import ValidationError
from tgd.services.reports.period import (
    checked,
    date_range,
    parse_day,
    parse_period,
    previous_quarter,
)


@pytest.mark.parametrize(
    ("text", "start", "end", "code"),
    [
        ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30), "2026-T3"),
        ("2026-T1", date(2026, 1, 1), date(2026, 3, 31), "2026-T1"),
        ("2026q4", date(2026, 10, 1), date(2026, 12, 31), "2026-T4"),
        ("2026-S1", date(2026, 1, 1), date(2026, 6, 30), "2026-S1"),
        ("2026-H2", date(2026, 7, 1), date(2026, 12, 31), "2026-S2"),
        ("2025", date(2025, 1, 1), date(2025, 12, 31), "2025"),
    ],
)
def test_periods_are_parsed(text: str, start: date, end: date, code: str) -> None:
    period = parse_period(text)
    assert (period.start, period.end, period.code) == (start, end, code)


@pytest.mark.parametrize("text", ["2026-Q5", "2026-S3", "T3-2026", "", "2026-Q"])
def test_unknown_periods_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_period(text)


def test_inverted_range_is_refused() -> None:
    with pytest.raises(ValidationError, match="inversée"):
        date_range(date(2026, 9, 1), date(2026, 8, 1))


def test_days_in_both_spellings() -> None:
    assert parse_day("2026-07-01") == parse_day("01/07/2026") == date(2026, 7, 1)
    with pytest.raises(ValidationError):
        parse_day("1er juillet")


def test_future_period_is_refused_and_running_one_is_provisional() -> None:
    today = date(2026, 11, 23)
    with pytest.raises(ValidationError, match="n'a pas commencé"):
        checked(parse_period("2027-Q1"), today=today)
    running, provisional = checked(parse_period("2026-Q4"), today=today)
    assert provisional and running.end == today
    past, provisional = checked(parse_period("2026-Q3"), today=today)
    assert not provisional and past.end == date(2026, 9, 30)


def test_bounds_follow_the_territory_clock() -> None:
    q3 = parse_period("2026-Q3")
    assert q3.bounds("Europe/Paris") == (
        datetime(2026, 6, 30, 22, 0, tzinfo=UTC),
        datetime(2026, 9, 30, 22, 0, tzinfo=UTC),
    )
    start, _ = q3.bounds("Pacific/Noumea")
    assert start == datetime(2026, 6, 30, 13, 0, tzinfo=UTC)


def test_previous_quarter() -> None:
    assert previous_quarter(date(2026, 11, 23)).code == "2026-T3"
    assert previous_quarter(date(2026, 2, 1)).code == "2025-T4"
