"""Geocoding with a cache that never stores the address in clear (R-25, R-52)."""

from __future__ import annotations

from sqlalchemy import Engine, text

from tgd.adapters.clock import FrozenClock
from tgd.adapters.geocoder import CachedGeocoder, FakeGeocoder, normalise
from tgd.container import Platform


class Counting:
    def __init__(self) -> None:
        self.calls = 0
        self.inner = FakeGeocoder({"12 rue des Lilas, 75011 Paris": (48.86, 2.38)})

    def locate(self, address: str) -> tuple[float, float] | None:
        self.calls += 1
        return self.inner.locate(address)


def test_normalise_folds_case_accents_and_spaces() -> None:
    assert normalise("  12, Rue  des Lilas   Évry ") == "12 rue des lilas evry"
    assert normalise("Rue des Érables") == normalise("rue des erables")


def test_answers_are_cached_by_hash_and_the_address_is_not_stored(
    platform: Platform, engine: Engine, clock: FrozenClock
) -> None:
    inner = Counting()
    geocoder = CachedGeocoder(inner, platform.sessions, secret="s", clock=clock)
    assert geocoder.locate("12 rue des Lilas, 75011 PARIS") == (48.86, 2.38)
    assert geocoder.locate("12 Rue des Lilas 75011 Paris") == (48.86, 2.38)
    assert geocoder.locate("nulle part") is None
    assert geocoder.locate("nulle part") is None  # a miss is cached too
    assert inner.calls == 2
    with engine.connect() as conn:
        dump = repr(conn.execute(text("SELECT * FROM geocode_cache")).all())
    assert "Lilas" not in dump and "lilas" not in dump
