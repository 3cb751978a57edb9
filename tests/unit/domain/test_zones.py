"""Competent force (R-25): the best position and the zone it falls in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tgd.domain.zones import Fix, PositionKind, Zone, ZoneIndex, best_position, zone_from_geojson

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def square(unit: int, lon: float, lat: float, half: float) -> Zone:
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return zone_from_geojson(unit, {"type": "Polygon", "coordinates": [ring]})


@pytest.fixture
def index() -> ZoneIndex:
    # unit 1: a big zone; unit 2: a small zone inside it; unit 3: beside unit 1, sharing x=1.0.
    return ZoneIndex([square(1, 0.0, 0.0, 1.0), square(2, 0.5, 0.5, 0.1), square(3, 2.0, 0.0, 1.0)])


def test_point_inside_a_zone(index: ZoneIndex) -> None:
    assert index.unit_at(-0.5, -0.5) == 1


def test_the_most_specific_zone_wins_where_zones_overlap(index: ZoneIndex) -> None:
    assert index.units_at(0.5, 0.5) == [2, 1]
    assert index.unit_at(0.5, 0.5) == 2


def test_point_on_a_border_belongs_to_both_sides(index: ZoneIndex) -> None:
    assert sorted(index.units_at(0.0, 1.0)) == [1, 3]


def test_point_outside_every_zone(index: ZoneIndex) -> None:
    assert index.unit_at(10.0, 10.0) is None


def fix(minutes_ago: int, *, gnss: bool = True, accuracy: int = 20) -> Fix:
    return Fix(48.0 + minutes_ago / 1000, 2.0, accuracy, NOW - timedelta(minutes=minutes_ago), gnss)


def test_fresh_gps_fix_beats_everything() -> None:
    chosen = best_position([fix(2, gnss=False), fix(5)], now=NOW, residence=(1.0, 1.0))
    assert chosen is not None and chosen.kind is PositionKind.GNSS and chosen.accuracy_m == 20


def test_stale_gps_falls_back_to_a_fresh_cell_fix() -> None:
    chosen = best_position([fix(40), fix(3, gnss=False, accuracy=900)], now=NOW)
    assert chosen is not None and chosen.kind is PositionKind.OTHER_FIX


def test_stale_fixes_fall_back_to_the_temporary_location() -> None:
    chosen = best_position([fix(40)], now=NOW, temporary=(45.0, 5.0), residence=(1.0, 1.0))
    assert chosen is not None and chosen.kind is PositionKind.TEMPORARY


def test_workplace_during_working_hours_else_residence() -> None:
    at_work = best_position([], now=NOW, workplace=(2.0, 2.0), at_work=True, residence=(1.0, 1.0))
    at_home = best_position([], now=NOW, workplace=(2.0, 2.0), at_work=False, residence=(1.0, 1.0))
    assert at_work is not None and at_work.kind is PositionKind.WORKPLACE
    assert at_home is not None and at_home.kind is PositionKind.RESIDENCE


def test_nothing_known_gives_no_position() -> None:
    assert best_position([], now=NOW) is None
