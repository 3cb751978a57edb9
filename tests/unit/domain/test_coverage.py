"""Coverage (Annexe 2 I.3): import checks, point status and percentages on synthetic layers."""

from __future__ import annotations

from typing import Any

import pytest
from pyproj import Geod
from shapely.geometry import LineString, MultiLineString, Polygon, box, mapping

from tgd.domain.coverage import (
    CoverageIndex,
    CoverageMap,
    CoverageStatus,
    LayerKind,
    check_layer,
    layer_size,
    measure,
    scale_error_bound,
)

# A synthetic Paris: the coverage is a 0.2° square with a white zone (a hole) in its middle.
COVERED = Polygon(
    [(2.2, 48.8), (2.4, 48.8), (2.4, 48.9), (2.2, 48.9)],
    holes=[[(2.28, 48.84), (2.32, 48.84), (2.32, 48.86), (2.28, 48.86)]],
)


def collection(*geometries: Any, **extra: Any) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        **extra,
        "features": [
            {"type": "Feature", "geometry": mapping(g), "properties": {}} for g in geometries
        ],
    }


def templates(result: Any) -> list[str]:
    return [template for template, _ in result.errors]


def test_valid_coverage_is_merged_into_one_geometry() -> None:
    left, right = box(2.2, 48.8, 2.31, 48.9), box(2.29, 48.8, 2.4, 48.9)  # overlapping cells
    result = check_layer(collection(left, right), LayerKind.COUVERTURE, "75")
    assert result.is_valid and result.features == 2
    assert result.geometry is not None
    assert result.geometry.area == pytest.approx(box(2.2, 48.8, 2.4, 48.9).area)


def test_legacy_crs_other_than_wgs84_is_refused() -> None:
    lambert = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}}
    result = check_layer(collection(COVERED, crs=lambert), LayerKind.COUVERTURE, "75")
    assert not result.is_valid
    assert any("WGS 84" in t for t in templates(result))
    crs84 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    assert check_layer(collection(COVERED, crs=crs84), LayerKind.COUVERTURE, "75").is_valid


def test_projected_coordinates_are_refused_as_outside_wgs84() -> None:
    projected = box(652000, 6861000, 653000, 6862000)  # Lambert-93 metres
    result = check_layer(collection(projected), LayerKind.COUVERTURE, "75")
    assert any("hors du WGS 84" in t for t in templates(result))


def test_polygon_of_another_territory_is_refused() -> None:
    reunion = box(55.4, -21.0, 55.5, -20.9)
    result = check_layer(collection(reunion), LayerKind.COUVERTURE, "75")
    assert any("limites du territoire" in t for t in templates(result))
    assert check_layer(collection(reunion), LayerKind.COUVERTURE, "974").is_valid


def test_swapped_latitude_and_longitude_are_refused() -> None:
    swapped = box(48.8, 2.2, 48.9, 2.4)
    assert not check_layer(collection(swapped), LayerKind.COUVERTURE, "75").is_valid


def test_self_intersecting_polygon_is_refused_with_the_reason() -> None:
    bowtie = Polygon([(2.2, 48.8), (2.4, 48.9), (2.4, 48.8), (2.2, 48.9)])
    result = check_layer(collection(bowtie), LayerKind.COUVERTURE, "75")
    assert any("invalide" in t for t in templates(result))
    assert "Self-intersection" in str(result.errors[0][1]["why"])


def test_geometry_kind_must_match_the_layer() -> None:
    road = LineString([(2.2, 48.85), (2.4, 48.85)])
    assert not check_layer(collection(road), LayerKind.URBAIN, "75").is_valid
    assert not check_layer(collection(COVERED), LayerKind.ROUTES, "75").is_valid
    assert check_layer(collection(road), LayerKind.RAIL, "75").is_valid


def test_not_a_feature_collection_is_refused() -> None:
    assert not check_layer({"type": "Polygon"}, LayerKind.COUVERTURE, "75").is_valid
    assert not check_layer(collection(), LayerKind.COUVERTURE, "75").is_valid
    broken = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]}
    assert any("illisible" in t for t in templates(check_layer(broken, LayerKind.URBAIN, "75")))


def test_point_in_the_white_zone_is_outside_coverage() -> None:
    index = CoverageIndex([CoverageMap(1, COVERED)])
    assert index.status_at(48.82, 2.25) is CoverageStatus.COVERED
    assert index.status_at(48.85, 2.30) is CoverageStatus.OUTSIDE  # in the hole
    assert index.status_at(48.80, 2.30) is CoverageStatus.COVERED  # on the border: covered


def test_point_where_no_map_says_anything_is_unknown() -> None:
    index = CoverageIndex([CoverageMap(1, COVERED)])
    assert index.status_at(45.76, 4.83) is CoverageStatus.UNKNOWN  # Lyon: no map there
    assert CoverageIndex([]).status_at(48.85, 2.30) is CoverageStatus.UNKNOWN


def test_urban_share_is_the_covered_area() -> None:
    # The western half of the square (2.2-2.3) holds half of the hole (2.28-2.32).
    urban = box(2.2, 48.8, 2.3, 48.9)
    result = measure(COVERED, urban, LayerKind.URBAIN)
    hole_half = box(2.28, 48.84, 2.3, 48.86)
    expected = 1 - hole_half.area / urban.area  # nearly the ratio in degrees at this size
    assert result.share_pct == pytest.approx(100 * expected, abs=0.05)
    assert result.total == pytest.approx(layer_size(urban, LayerKind.URBAIN))


def test_road_share_is_the_covered_length() -> None:
    # An east-west road across the square at the hole's latitude: 0.04° of 0.2° is uncovered.
    road = LineString([(2.2, 48.85), (2.4, 48.85)])
    north = LineString([(2.2, 48.89), (2.4, 48.89)])  # fully covered
    result = measure(COVERED, MultiLineString([road, north]), LayerKind.ROUTES)
    assert result.share_pct == pytest.approx(100 * (0.4 - 0.04) / 0.4, abs=0.05)


def test_rail_outside_every_covered_polygon_has_no_coverage() -> None:
    rail = LineString([(2.5, 48.7), (2.6, 48.7)])
    result = measure(COVERED, rail, LayerKind.RAIL)
    assert result.covered == 0 and result.share_pct == 0
    assert measure(None, rail, LayerKind.RAIL).share_pct == 0


def test_lengths_agree_with_the_geodesic_within_the_projection_bound() -> None:
    geod = Geod(ellps="WGS84")
    road = LineString([(1.0, 48.0), (3.5, 49.5), (2.0, 50.0)])  # about 400 km
    exact = geod.geometry_length(road) / 1000
    projected = layer_size(road, LayerKind.ROUTES)
    assert abs(projected - exact) / exact <= scale_error_bound(road) + 1e-4
    assert abs(projected - exact) / exact < 0.002


def test_areas_agree_with_the_geodesic_area() -> None:
    geod = Geod(ellps="WGS84")
    square = box(2.2, 48.8, 2.4, 48.9)
    exact = abs(geod.geometry_area_perimeter(square)[0]) / 1e6
    assert layer_size(square, LayerKind.URBAIN) == pytest.approx(exact, rel=1e-4)
