"""Times typed by people are the territory's wall clock (issue 15, item 6)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tgd.domain.errors import ValidationError
from tgd.domain.localtime import from_local, parse_local, to_local


def test_a_typed_time_is_read_in_the_territory_zone() -> None:
    typed = datetime(2026, 11, 23, 14, 30)  # naive, as a form gives it
    assert from_local(typed, "America/Cayenne") == datetime(2026, 11, 23, 17, 30, tzinfo=UTC)
    assert from_local(typed, "Indian/Reunion") == datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
    assert to_local(datetime(2026, 11, 23, 17, 30, tzinfo=UTC), "America/Cayenne") == typed


def test_a_time_skipped_by_summer_time_is_refused() -> None:
    with pytest.raises(ValidationError, match="n'existe pas"):
        from_local(datetime(2026, 3, 29, 2, 30), "Europe/Paris")


def test_the_repeated_autumn_hour_means_the_first_one() -> None:
    typed = datetime(2026, 10, 25, 2, 30)
    assert from_local(typed, "Europe/Paris") == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_a_command_line_time_keeps_an_explicit_offset() -> None:
    assert parse_local("2026-11-23T14:30", "America/Miquelon", field="--at") == datetime(
        2026, 11, 23, 17, 30, tzinfo=UTC
    )
    assert parse_local("2026-11-23T14:30+01:00", "America/Miquelon", field="--at") == datetime(
        2026, 11, 23, 13, 30, tzinfo=UTC
    )
    with pytest.raises(ValidationError, match="--at"):
        parse_local("demain", "Europe/Paris", field="--at")
