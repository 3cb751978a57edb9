"""Network coverage ("zones blanches", Annexe 2 I.3): checking imports, point status, percentages.

Pure: GeoJSON in, shapely geometries and figures out. The carrier's coverage
polygons and the reference layers the contract measures coverage against
(urban areas, roads, railways) are checked like the police zones: a
FeatureCollection in WGS 84 (RFC 7946; a legacy ``crs`` member must name WGS 84),
the expected geometry kind, valid polygons, every coordinate within the
territory's bounds. A point is *covered* when a coverage polygon covers it,
*outside coverage* when it is not but lies within the extent an imported map
describes, and *unknown* elsewhere (no map there: no warning). Percentages are
measured in a local Lambert azimuthal equal-area projection (pyproj) centred on
the layer: areas are exact there, and lengths within 0.01 % over a
département-sized layer (scale error ≤ 1/cos(c/2) - 1 at angular distance c from the centre).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from tgd.domain.errors import N_

if TYPE_CHECKING:
    from pyproj import Transformer

MAX_FEATURES = 200_000
# Names a legacy GeoJSON ``crs`` member may give for WGS 84 longitude/latitude.
WGS84_NAMES = frozenset(
    {
        "urn:ogc:def:crs:ogc:1.3:crs84",
        "urn:ogc:def:crs:ogc::crs84",
        "urn:ogc:def:crs:epsg::4326",
        "epsg:4326",
        "crs84",
        "wgs84",
    }
)

# Bounds (west, south, east, north) of each territory, degrees WGS 84, with a margin for the
# coverage that spills over the sea. Metropolitan départements share the mainland-and-Corsica
# box: the check catches swapped axes, projected coordinates and a file of the wrong region.
METROPOLE = (-5.8, 41.0, 10.0, 51.6)
TERRITORY_BOUNDS: dict[str, tuple[float, float, float, float]] = {
    "971": (-62.0, 15.7, -60.8, 16.7),  # Guadeloupe
    "972": (-61.4, 14.2, -60.6, 15.0),  # Martinique
    "973": (-54.8, 2.0, -51.4, 6.0),  # Guyane
    "974": (55.1, -21.6, 56.0, -20.7),  # La Réunion
    "975": (-56.6, 46.6, -56.0, 47.3),  # Saint-Pierre-et-Miquelon
    "976": (44.8, -13.2, 45.5, -12.5),  # Mayotte
    "977": (-63.0, 17.8, -62.7, 18.05),  # Saint-Barthélemy
    "978": (-63.25, 17.95, -62.9, 18.2),  # Saint-Martin
    "986": (-178.4, -14.6, -175.9, -13.0),  # Wallis-et-Futuna
    "987": (-155.0, -28.5, -134.0, -7.0),  # Polynésie française
    "988": (157.5, -23.5, 172.5, -17.0),  # Nouvelle-Calédonie
}


def territory_bounds(code: str) -> tuple[float, float, float, float]:
    """Return the bounds a territory's geometries must lie within."""
    return TERRITORY_BOUNDS.get(code, METROPOLE)


class LayerKind(enum.StrEnum):
    """What an imported layer is: the carrier's coverage, or a reference layer to measure."""

    COUVERTURE = "couverture"  # the carrier's coverage polygons
    URBAIN = "urbain"  # urban areas (polygons): share of area covered
    ROUTES = "routes"  # road axes (lines): share of length covered
    RAIL = "rail"  # railway axes (lines): share of length covered

    @property
    def label(self) -> str:
        """Return the French label shown to users."""
        return LAYER_LABELS[self]

    @property
    def is_linear(self) -> bool:
        """Tell whether the layer is made of lines (measured in km) rather than areas (km²)."""
        return self in (LayerKind.ROUTES, LayerKind.RAIL)

    @property
    def unit(self) -> str:
        """Return the unit of the layer's measure."""
        return "km" if self.is_linear else "km²"


LAYER_LABELS = {
    LayerKind.COUVERTURE: N_("couverture de l'opérateur"),
    LayerKind.URBAIN: N_("zones urbaines"),
    LayerKind.ROUTES: N_("axes routiers"),
    LayerKind.RAIL: N_("axes ferroviaires"),
}
MEASURED_KINDS = (LayerKind.URBAIN, LayerKind.ROUTES, LayerKind.RAIL)
_POLYGONS = ("Polygon", "MultiPolygon")
_LINES = ("LineString", "MultiLineString")


class CoverageStatus(enum.StrEnum):
    """Whether a point has network coverage."""

    COVERED = "couvert"
    OUTSIDE = "hors_couverture"
    UNKNOWN = "inconnu"


@dataclass
class CheckedLayer:
    """A GeoJSON layer after the checks: its merged geometry, or what is wrong."""

    geometry: BaseGeometry | None = None
    features: int = 0
    errors: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # template, params

    @property
    def is_valid(self) -> bool:
        """Tell whether the layer can be imported."""
        return not self.errors and self.geometry is not None


def check_layer(data: Any, kind: LayerKind, territory_code: str) -> CheckedLayer:
    """Check a parsed GeoJSON FeatureCollection for a territory; merge its geometries."""
    result = CheckedLayer()
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        result.errors.append((N_("Le fichier doit être une FeatureCollection GeoJSON."), {}))
        return result
    if not isinstance(features, list) or not features:
        result.errors.append((N_("La FeatureCollection ne contient aucune entité."), {}))
        return result
    if not _is_wgs84(data.get("crs")):
        result.errors.append(
            (N_("Système de coordonnées refusé : le GeoJSON doit être en WGS 84 (EPSG:4326)."), {})
        )
        return result
    if len(features) > MAX_FEATURES:
        result.errors.append(
            (N_("Trop d'entités dans un seul fichier (%(n)s au plus)."), {"n": MAX_FEATURES})
        )
        return result
    allowed = _LINES if kind.is_linear else _POLYGONS
    bounds = territory_bounds(territory_code)
    parts: list[BaseGeometry] = []
    for number, feature in enumerate(features, start=1):
        geometry = _check_feature(result, number, feature, allowed, bounds)
        if geometry is not None:
            parts.append(geometry)
        if len(result.errors) >= 20:
            result.errors.append((N_("Trop d'erreurs : vérification arrêtée."), {}))
            return result
    if result.errors:
        return result
    result.features = len(parts)
    result.geometry = shapely.union_all(parts)
    return result


def _is_wgs84(crs: Any) -> bool:
    if crs is None:
        return True  # RFC 7946: GeoJSON is WGS 84 longitude, latitude
    name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
    return isinstance(name, str) and name.strip().lower() in WGS84_NAMES


def _check_feature(
    result: CheckedLayer,
    number: int,
    feature: Any,
    allowed: tuple[str, ...],
    bounds: tuple[float, float, float, float],
) -> BaseGeometry | None:
    try:
        geometry = shape(feature["geometry"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        result.errors.append((N_("Entité n° %(n)s : géométrie illisible."), {"n": number}))
        return None
    if geometry.geom_type not in allowed:
        result.errors.append(
            (
                N_("Entité n° %(n)s : « %(expected)s » attendu, pas « %(t)s »."),
                {"n": number, "expected": " ou ".join(allowed), "t": geometry.geom_type},
            )
        )
        return None
    if geometry.is_empty or not np.isfinite(shapely.get_coordinates(geometry)).all():
        result.errors.append((N_("Entité n° %(n)s : géométrie vide."), {"n": number}))
        return None
    minx, miny, maxx, maxy = geometry.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        result.errors.append(
            (
                N_("Entité n° %(n)s : coordonnées hors du WGS 84 (longitude, latitude)."),
                {"n": number},
            )
        )
        return None
    west, south, east, north = bounds
    if not (west <= minx and maxx <= east and south <= miny and maxy <= north):
        result.errors.append(
            (N_("Entité n° %(n)s : en dehors des limites du territoire."), {"n": number})
        )
        return None
    if not geometry.is_valid:
        result.errors.append(
            (
                N_("Entité n° %(n)s : géométrie invalide (%(why)s)."),
                {"n": number, "why": explain_validity(geometry)},
            )
        )
        return None
    return geometry


# --- point status ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageMap:
    """A territory's coverage in force."""

    territory_id: int
    geometry: BaseGeometry


class CoverageIndex:
    """Point-in-polygon over every coverage map in force, with an STRtree of their polygons."""

    def __init__(self, maps: Sequence[CoverageMap]) -> None:
        parts: list[BaseGeometry] = []
        for m in maps:
            parts.extend(shapely.get_parts(m.geometry))
        shapely.prepare(parts)
        self._parts = parts
        self._tree = STRtree(parts)
        self._extents = [shapely.box(*m.geometry.bounds) for m in maps]
        self.territories = frozenset(m.territory_id for m in maps)

    def __len__(self) -> int:
        return len(self._extents)

    def status_at(self, lat: float, lon: float) -> CoverageStatus:
        """Tell whether the point is covered, outside coverage, or where no map says."""
        point = Point(lon, lat)
        if len(self._tree.query(point, predicate="covered_by")):
            return CoverageStatus.COVERED
        if any(extent.covers(point) for extent in self._extents):
            return CoverageStatus.OUTSIDE
        return CoverageStatus.UNKNOWN


# --- percentages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """How much of a reference layer the coverage covers, in km² or km."""

    kind: LayerKind
    total: float
    covered: float

    @property
    def share_pct(self) -> float | None:
        """Return the covered share in per cent (None for an empty layer)."""
        return None if self.total <= 0 else min(100.0, 100.0 * self.covered / self.total)


def local_projection(geometry: BaseGeometry) -> Transformer:
    """Return a WGS 84 → local Lambert azimuthal equal-area transformer centred on the geometry."""
    from pyproj import CRS, Transformer  # only when measuring: keeps every process's start light

    minx, miny, maxx, maxy = geometry.bounds
    lat0, lon0 = (miny + maxy) / 2, (minx + maxx) / 2
    laea = CRS.from_proj4(
        f"+proj=laea +lat_0={lat0:.6f} +lon_0={lon0:.6f} +datum=WGS84 +units=m +no_defs"
    )
    return Transformer.from_crs(CRS.from_epsg(4326), laea, always_xy=True)


def project(geometry: BaseGeometry, transformer: Transformer) -> BaseGeometry:
    """Return the geometry in the transformer's projected coordinates."""

    def _xy(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometry, _xy)


def layer_size(layer: BaseGeometry, kind: LayerKind) -> float:
    """Return a layer's area in km² (polygons) or length in km (lines)."""
    projected = project(layer, local_projection(layer))
    size = projected.length / 1000.0 if kind.is_linear else projected.area / 1_000_000.0
    return float(size)


def measure(coverage: BaseGeometry | None, layer: BaseGeometry, kind: LayerKind) -> Measure:
    """Measure the share of a reference layer that the coverage covers (Annexe 2 I.3)."""
    if kind is LayerKind.COUVERTURE:
        raise ValueError("the coverage is what is measured against, not a reference layer")
    transformer = local_projection(layer)
    parts = np.asarray(shapely.get_parts(project(layer, transformer)))
    size = shapely.length if kind.is_linear else shapely.area
    scale = 1000.0 if kind.is_linear else 1_000_000.0  # m → km, m² → km²
    total = float(np.sum(size(parts))) / scale
    if coverage is None or coverage.is_empty or not len(parts):
        return Measure(kind, total, 0.0)
    area = project(coverage, transformer)
    shapely.prepare(area)
    inside = shapely.covers(area, parts)
    touching = ~inside & shapely.intersects(area, parts)
    covered = float(np.sum(size(parts[inside])))
    if touching.any():
        covered += float(np.sum(size(shapely.intersection(parts[touching], area))))
    return Measure(kind, total, covered / scale)


def scale_error_bound(geometry: BaseGeometry) -> float:
    """Return the largest relative length error of ``local_projection`` over the geometry."""
    minx, miny, maxx, maxy = geometry.bounds
    # Angular distance from the centre to the farthest corner, on the sphere.
    lat0, lon0 = math.radians((miny + maxy) / 2), math.radians((minx + maxx) / 2)
    worst = 0.0
    for lon, lat in ((minx, miny), (minx, maxy), (maxx, miny), (maxx, maxy)):
        la, lo = math.radians(lat), math.radians(lon)
        cos_c = math.sin(lat0) * math.sin(la) + math.cos(lat0) * math.cos(la) * math.cos(lo - lon0)
        worst = max(worst, math.acos(max(-1.0, min(1.0, cos_c))))
    # LAEA scale: cos(c/2) along the radius, 1/cos(c/2) across it.
    return 1 / math.cos(worst / 2) - 1
