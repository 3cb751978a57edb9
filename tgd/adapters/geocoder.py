"""Geocoders (R-25): the Base Adresse Nationale through geopy, a fake for offline use, a cache.

The cache keys answers by a keyed hash of the normalised address, so the
address itself is never stored in clear in the cache table (R-52).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import unicodedata
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tgd.db.models.operations import GeocodeCache
from tgd.db.writes import write_transaction
from tgd.ports import Clock, Geocoder

log = logging.getLogger(__name__)


def normalise(address: str) -> str:
    """Fold case, accents and spaces so that the same address hits the same cache entry."""
    folded = unicodedata.normalize("NFKD", address).encode("ascii", "ignore").decode()
    return " ".join(folded.lower().replace(",", " ").split())


class BanGeocoder:
    """The Base Adresse Nationale (api-adresse.data.gouv.fr) through geopy's BANFrance."""

    def __init__(self, *, domain: str, timeout: int) -> None:
        from geopy.geocoders import BANFrance

        self._geocoder = BANFrance(domain=domain, timeout=timeout)

    def locate(self, address: str) -> tuple[float, float] | None:
        """Ask the BAN; None when not found or unreachable (logged without the address)."""
        from geopy.exc import GeopyError

        try:
            found = self._geocoder.geocode(address, exactly_one=True)
        except GeopyError as exc:
            log.warning("geocoder unavailable: %s", type(exc).__name__)
            return None
        return (found.latitude, found.longitude) if found else None


class FakeGeocoder:
    """An offline geocoder that knows a fixed table of addresses (demo, tests)."""

    def __init__(self, known: Mapping[str, tuple[float, float]]) -> None:
        self._known = {normalise(k): v for k, v in known.items()}

    def locate(self, address: str) -> tuple[float, float] | None:
        """Return the coordinates of a known address, None otherwise."""
        return self._known.get(normalise(address))


class CachedGeocoder:
    """Remembers answers (found or not) in the database, keyed by a hash of the address."""

    def __init__(
        self, inner: Geocoder, sessions: sessionmaker[Session], *, secret: str, clock: Clock
    ) -> None:
        self._inner = inner
        self._sessions = sessions
        self._secret = secret.encode()
        self._clock = clock

    def _key(self, address: str) -> str:
        return hmac.new(self._secret, normalise(address).encode(), hashlib.sha256).hexdigest()

    def locate(self, address: str) -> tuple[float, float] | None:
        """Return cached coordinates, or ask the inner geocoder and remember its answer."""
        key = self._key(address)
        with self._sessions() as session:
            hit = session.scalar(select(GeocodeCache).where(GeocodeCache.address_hash == key))
            if hit is not None:
                return (hit.lat, hit.lon) if hit.lat is not None and hit.lon is not None else None
        found = self._inner.locate(address)
        try:
            with write_transaction(self._sessions, label="geocode cache") as session:
                session.add(
                    GeocodeCache(
                        address_hash=key,
                        lat=found[0] if found else None,
                        lon=found[1] if found else None,
                        created_at=self._clock.now(),
                    )
                )
        except IntegrityError:
            pass  # another request cached it meanwhile
        return found
