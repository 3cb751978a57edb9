"""Geocoders (R-25): the Base Adresse Nationale through geopy, and an offline fake.

Both answer with a ``GeocodeMatch`` read from BAN's own wire format (a GeoJSON
feature with ``score``, ``type`` and ``label``): the real one from geopy's
``Location.raw``, the fake from the features it builds the way the BAN does,
so what the operator is told about a match's quality is tested on the real
format. Geocoding is network I/O: callers never do it inside a write
transaction (``tgd.services.geocoding`` geocodes between two short ones).
Nothing is cached here: coordinates are personal data, kept only encrypted
with the file they belong to.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Mapping
from typing import Any

from tgd.domain.geocoding import GeocodeMatch, MatchKind, match_from_collection, match_from_feature
from tgd.ports import GeocoderUnavailable

log = logging.getLogger(__name__)


def normalise(address: str) -> str:
    """Fold case, accents and spaces so that the same address is recognised."""
    folded = unicodedata.normalize("NFKD", address).encode("ascii", "ignore").decode()
    return " ".join(folded.lower().replace(",", " ").split())


class BanGeocoder:
    """The Base Adresse Nationale (api-adresse.data.gouv.fr) through geopy's BANFrance."""

    def __init__(self, *, domain: str, timeout: int, scheme: str = "https") -> None:
        from geopy.geocoders import BANFrance

        self._geocoder = BANFrance(domain=domain, timeout=timeout, scheme=scheme)

    def geocode(self, address: str) -> GeocodeMatch | None:
        """Ask the BAN; None when it knows no such address (logged without the address)."""
        from geopy.exc import GeopyError

        try:
            found = self._geocoder.geocode(address, exactly_one=True)
        except GeopyError as exc:
            log.warning("geocoder unavailable: %s", type(exc).__name__)
            raise GeocoderUnavailable(type(exc).__name__) from None
        if found is None:
            return None
        return match_from_feature(found.raw)


# Offline answers for communes of the demo, as the BAN answers for a commune alone.
DEMO_COMMUNES: dict[str, tuple[float, float, str]] = {
    "75": (48.8566, 2.3522, "Paris"),
    "974": (-20.8823, 55.4504, "Saint-Denis"),
    "975": (46.7811, -56.1764, "Saint-Pierre"),
}


class FakeGeocoder:
    """An offline geocoder: known addresses to the house number, else the commune's centre.

    ``known`` maps an address to (lat, lon) (the composition root gives it the demo
    gazetteer, ``tgd/domain/gazetteer.py``); the fake builds the BAN's answer (a
    ``FeatureCollection``, ``type`` ``housenumber`` with a high score) and reads it
    back like the real one. An unknown address whose postcode belongs to a commune
    of ``communes`` gets that commune's centre with ``type`` ``municipality`` and a
    low score, as the BAN answers for an address it cannot place.
    """

    def __init__(
        self,
        known: Mapping[str, tuple[float, float]],
        *,
        communes: Mapping[str, tuple[float, float, str]] | None = None,
    ) -> None:
        self._known = {normalise(k): (k, v) for k, v in known.items()}
        self._communes = dict(DEMO_COMMUNES if communes is None else communes)

    def search(self, address: str) -> dict[str, Any]:
        """Answer like ``GET /search/?q=…&limit=1`` of the BAN API."""
        features = []
        hit = self._known.get(normalise(address))
        if hit is not None:
            label, (lat, lon) = hit
            features.append(_feature(lat, lon, "housenumber", 0.96, label))
        else:
            commune = self._commune_of(address)
            if commune is not None:
                lat, lon, name = commune
                features.append(_feature(lat, lon, "municipality", 0.31, name))
        return {"type": "FeatureCollection", "version": "draft", "features": features}

    def geocode(self, address: str) -> GeocodeMatch | None:
        """Return the match the BAN would give, read from its wire format."""
        return match_from_collection(self.search(address))

    def _commune_of(self, address: str) -> tuple[float, float, str] | None:
        for word in normalise(address).split():
            if word.isdigit() and len(word) == 5:
                return self._communes.get(word[:3]) or self._communes.get(word[:2])
        return None


def _feature(lat: float, lon: float, kind: str, score: float, label: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"label": label, "score": score, "type": kind},
    }


__all__ = [
    "BanGeocoder",
    "FakeGeocoder",
    "GeocoderUnavailable",
    "MatchKind",
    "normalise",
]
