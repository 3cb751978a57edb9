"""Retention dates on the territory's calendar (R-16, R-17, R-34)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tgd.domain.retention import add_calendar_months, destruction_due_at, reassignable_from


def test_four_calendar_months_in_paris_keep_the_local_time_across_dst() -> None:
    closed = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)  # 10:00 in Paris (winter)
    due = destruction_due_at(closed, "Europe/Paris")
    assert due == datetime(2026, 5, 15, 8, 0, tzinfo=UTC)  # 10:00 in Paris (summer)


def test_end_of_month_is_clamped() -> None:
    closed = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    assert destruction_due_at(closed, "Europe/Paris").date().isoformat() == "2027-02-28"


def test_months_are_counted_on_the_local_calendar_in_noumea() -> None:
    # 30 June 23:30 in Nouméa is still 30 June 12:30 UTC: due 30 October, Nouméa time.
    closed = datetime(2026, 6, 30, 12, 30, tzinfo=UTC)
    due = destruction_due_at(closed, "Pacific/Noumea")
    assert due == datetime(2026, 10, 30, 12, 30, tzinfo=UTC)
    # 1 July 00:30 in Nouméa is 30 June 13:30 UTC: due 1 November, Nouméa time.
    closed = datetime(2026, 6, 30, 13, 30, tzinfo=UTC)
    assert destruction_due_at(closed, "Pacific/Noumea") == datetime(
        2026, 10, 31, 13, 30, tzinfo=UTC
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_calendar_months(datetime(2026, 1, 1), 4, "Europe/Paris")


def test_reassignment_is_possible_seven_days_after_termination() -> None:
    terminated = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert reassignable_from(terminated) == datetime(2026, 3, 8, 10, 0, tzinfo=UTC)
