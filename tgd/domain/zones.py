"""Competent force (R-25): the best known position, then point-in-polygon over the zones.

Pure: shapely geometries in, unit ids and reasons out. The best position is
a fresh GNSS fix, else any fresh fix, else the temporary location, else the
workplace during working hours, else the residence. A point on a border
belongs to the zones on both sides (``covers``); when zones overlap the
smallest one, the most specific, wins. An ``STRtree`` keeps the lookup fast
with thousands of polygons.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shapely import STRtree
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

FRESH_FIX = timedelta(minutes=15)  # a fix older than this no longer tells where the person is


class PositionKind(enum.StrEnum):
    """Where a candidate position comes from, best first."""

    GNSS = "gnss"
    OTHER_FIX = "fix"  # Wi-Fi or cell
    TEMPORARY = "temporary"  # R-13 temporary information
    WORKPLACE = "workplace"
    RESIDENCE = "residence"


@dataclass(frozen=True)
class Candidate:
    """A position the force can be chosen from."""

    kind: PositionKind
    lat: float
    lon: float
    accuracy_m: int | None = None
    at: datetime | None = None  # time of the fix


@dataclass(frozen=True)
class Fix:
    """A position received from the terminal."""

    lat: float
    lon: float
    accuracy_m: int | None
    captured_at: datetime
    is_gnss: bool


@dataclass(frozen=True)
class Zone:
    """A unit's zone of competence."""

    unit_id: int
    geometry: BaseGeometry


def zone_from_geojson(unit_id: int, geojson: dict[str, object]) -> Zone:
    """Build a zone from a GeoJSON Polygon or MultiPolygon (WGS 84)."""
    return Zone(unit_id, shape(geojson))


def best_position(
    fixes: Sequence[Fix],
    *,
    now: datetime,
    temporary: tuple[float, float] | None = None,
    workplace: tuple[float, float] | None = None,
    at_work: bool = False,
    residence: tuple[float, float] | None = None,
) -> Candidate | None:
    """Choose the position that best tells where the person is now (R-25)."""
    fresh = [f for f in fixes if now - f.captured_at <= FRESH_FIX]
    for wanted_gnss, kind in ((True, PositionKind.GNSS), (False, PositionKind.OTHER_FIX)):
        pool = [f for f in fresh if f.is_gnss == wanted_gnss]
        if pool:
            best = max(pool, key=lambda f: (f.captured_at, -(f.accuracy_m or 10**6)))
            return Candidate(kind, best.lat, best.lon, best.accuracy_m, best.captured_at)
    if temporary is not None:
        return Candidate(PositionKind.TEMPORARY, *temporary)
    if workplace is not None and at_work:
        return Candidate(PositionKind.WORKPLACE, *workplace)
    if residence is not None:
        return Candidate(PositionKind.RESIDENCE, *residence)
    if workplace is not None:
        return Candidate(PositionKind.WORKPLACE, *workplace)
    return None


class ZoneIndex:
    """Point-in-polygon over many zones with an STRtree."""

    def __init__(self, zones: Sequence[Zone]) -> None:
        self._zones = list(zones)
        self._tree = STRtree([z.geometry for z in self._zones])

    def __len__(self) -> int:
        return len(self._zones)

    def units_at(self, lat: float, lon: float) -> list[int]:
        """Return the units whose zone covers the point, most specific (smallest) first."""
        point = Point(lon, lat)
        hits = [self._zones[int(i)] for i in self._tree.query(point, predicate="covered_by")]
        hits.sort(key=lambda z: z.geometry.area)
        return [z.unit_id for z in hits]

    def unit_at(self, lat: float, lon: float) -> int | None:
        """Return the competent unit at the point, or None outside every zone."""
        units = self.units_at(lat, lon)
        return units[0] if units else None
