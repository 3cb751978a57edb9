"""Geocoded addresses (R-25): a match, its quality for the operator, the BAN wire format.

The Base Adresse Nationale answers a search with a GeoJSON ``FeatureCollection``;
each ``Feature`` has ``geometry.coordinates`` = [lon, lat] and ``properties``
with ``label`` (the address it matched), ``score`` (0–1, how well the text
matched) and ``type``: ``housenumber`` (the very building), ``street`` (the
street, somewhere along it), ``locality`` (a lieu-dit) or ``municipality``
(only the commune: its centre). ``match_from_feature`` reads that format; the
real geocoder and the offline fake both go through it. ``quality`` turns type
and score into what the operator must know: can the point be trusted for the
competent force, or must it be checked on the map.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tgd.domain.errors import N_, ValidationError

# Below this BAN score a house-number match is treated as approximate (product choice).
GOOD_SCORE = 0.7
POOR_SCORE = 0.5


class MatchKind(enum.StrEnum):
    """How precise a point is: BAN's ``type``, or where the point came from otherwise."""

    HOUSENUMBER = "housenumber"
    STREET = "street"
    LOCALITY = "locality"
    MUNICIPALITY = "municipality"
    MANUAL = "manual"  # placed on the map by an operator
    GIVEN = "given"  # coordinates written on the file itself


class Quality(enum.StrEnum):
    """What the operator should make of a point."""

    PRECISE = "precise"
    APPROXIMATE = "approximate"
    TO_CHECK = "to_check"
    MANUAL = "manual"


QUALITY_LABELS = {
    Quality.PRECISE: N_("adresse trouvée au numéro près"),
    Quality.APPROXIMATE: N_("position approximative (rue ou lieu-dit)"),
    Quality.TO_CHECK: N_("centre de la commune seulement : à vérifier sur la carte"),
    Quality.MANUAL: N_("placée sur la carte par un téléassisteur"),
}


@dataclass(frozen=True)
class GeocodeMatch:
    """One geocoder answer: the point, how it matched, and the address it matched."""

    lat: float
    lon: float
    kind: MatchKind
    score: float | None = None
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document stored encrypted (the point and the matched label)."""
        return {"lat": self.lat, "lon": self.lon, "label": self.label}


def match_from_feature(feature: Mapping[str, Any]) -> GeocodeMatch | None:
    """Read one BAN GeoJSON feature; None when it carries no usable point."""
    try:
        lon, lat = (float(v) for v in feature["geometry"]["coordinates"][:2])
    except (KeyError, TypeError, ValueError):
        return None
    properties = feature.get("properties") or {}
    try:
        kind = MatchKind(properties.get("type", "municipality"))
    except ValueError:
        kind = MatchKind.MUNICIPALITY  # an unknown type is trusted least
    score = properties.get("score")
    return GeocodeMatch(
        lat=lat,
        lon=lon,
        kind=kind,
        score=float(score) if isinstance(score, (int, float)) else None,
        label=str(properties.get("label") or ""),
    )


def match_from_collection(collection: Mapping[str, Any]) -> GeocodeMatch | None:
    """Read the best feature of a BAN ``FeatureCollection`` (the first: BAN sorts by score)."""
    features = collection.get("features") or []
    return match_from_feature(features[0]) if features else None


def quality(kind: MatchKind, score: float | None) -> Quality:
    """Say how far the operator may trust a point for the competent force (R-25)."""
    if kind is MatchKind.MANUAL:
        return Quality.MANUAL
    if kind is MatchKind.GIVEN:
        return Quality.PRECISE
    if kind is MatchKind.MUNICIPALITY or (score is not None and score < POOR_SCORE):
        return Quality.TO_CHECK
    if kind is MatchKind.HOUSENUMBER and (score is None or score >= GOOD_SCORE):
        return Quality.PRECISE
    return Quality.APPROXIMATE


def checked_point(lat: Any, lon: Any) -> tuple[float, float]:
    """Validate a point placed by an operator (WGS 84 degrees)."""
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        raise ValidationError(N_("Point invalide : latitude et longitude attendues.")) from None
    if not (math.isfinite(lat_f) and math.isfinite(lon_f)):
        raise ValidationError(N_("Point invalide : latitude et longitude attendues."))
    if not (-90 <= lat_f <= 90 and -180 <= lon_f <= 180):
        raise ValidationError(N_("Point hors des limites de la Terre."))
    return lat_f, lon_f
