"""Geocode matches read from the BAN's wire format, and what the operator is told about them."""

from __future__ import annotations

import pytest

from tgd.domain.errors import ValidationError
from tgd.domain.geocoding import (
    MatchKind,
    Quality,
    checked_point,
    match_from_collection,
    match_from_feature,
    quality,
)

# An answer of api-adresse.data.gouv.fr/search/?q=…&limit=1 (trimmed of unused properties).
BAN_ANSWER = {
    "type": "FeatureCollection",
    "version": "draft",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [2.380046, 48.858902]},
            "properties": {
                "label": "12 Rue des Tilleuls 75011 Paris",
                "score": 0.9712,
                "housenumber": "12",
                "id": "75111_9316_00012",
                "type": "housenumber",
                "postcode": "75011",
                "citycode": "75111",
                "city": "Paris",
                "context": "75, Paris, Île-de-France",
                "importance": 0.7,
                "street": "Rue des Tilleuls",
            },
        }
    ],
    "attribution": "BAN",
    "licence": "ETALAB-2.0",
    "query": "12 rue des tilleuls 75011 paris",
    "limit": 1,
}


def test_a_ban_answer_gives_the_point_its_type_score_and_label() -> None:
    match = match_from_collection(BAN_ANSWER)
    assert match is not None
    assert (match.lat, match.lon) == (48.858902, 2.380046)  # GeoJSON is [lon, lat]
    assert match.kind is MatchKind.HOUSENUMBER and match.score == 0.9712
    assert match.label == "12 Rue des Tilleuls 75011 Paris"


def test_an_empty_answer_or_a_feature_without_point_is_no_match() -> None:
    assert match_from_collection({"type": "FeatureCollection", "features": []}) is None
    assert match_from_feature({"type": "Feature", "properties": {"type": "street"}}) is None


def test_an_unknown_type_is_trusted_least() -> None:
    feature = {"geometry": {"coordinates": [2.0, 48.0]}, "properties": {"type": "zzz"}}
    match = match_from_feature(feature)
    assert match is not None and match.kind is MatchKind.MUNICIPALITY


@pytest.mark.parametrize(
    ("kind", "score", "expected"),
    [
        (MatchKind.HOUSENUMBER, 0.95, Quality.PRECISE),
        (MatchKind.HOUSENUMBER, 0.6, Quality.APPROXIMATE),
        (MatchKind.HOUSENUMBER, 0.3, Quality.TO_CHECK),
        (MatchKind.STREET, 0.9, Quality.APPROXIMATE),
        (MatchKind.LOCALITY, 0.8, Quality.APPROXIMATE),
        (MatchKind.MUNICIPALITY, 0.9, Quality.TO_CHECK),
        (MatchKind.MANUAL, None, Quality.MANUAL),
        (MatchKind.GIVEN, None, Quality.PRECISE),
    ],
)
def test_quality_says_how_far_the_point_can_be_trusted(
    kind: MatchKind, score: float | None, expected: Quality
) -> None:
    assert quality(kind, score) is expected


@pytest.mark.parametrize(
    ("lat", "lon"), [("x", 2), (91, 2), (48, 181), (float("nan"), 2), (None, 2)]
)
def test_a_point_placed_by_hand_must_be_on_earth(lat: object, lon: object) -> None:
    with pytest.raises(ValidationError):
        checked_point(lat, lon)


def test_a_valid_point_is_returned_as_floats() -> None:
    assert checked_point("48.85", 2.38) == (48.85, 2.38)
