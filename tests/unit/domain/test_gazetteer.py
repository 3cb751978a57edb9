"""The demo gazetteer: one source for the demo's points and the offline geocoder's."""

from __future__ import annotations

import pytest

from tgd.domain.beneficiary import Address
from tgd.domain.gazetteer import demo_gazetteer, placed
from tgd.services.demo import DEMO_PERSONS


def test_every_demo_address_is_placed_from_the_gazetteer_and_every_entry_is_used() -> None:
    gazetteer = demo_gazetteer()
    used: set[str] = set()
    for person in DEMO_PERSONS.values():
        for address in (person.residence, person.workplace):
            if address.is_empty:
                continue
            assert gazetteer[address.one_line()] == (address.lat, address.lon)
            used.add(address.one_line())
    assert used == set(gazetteer)


def test_placing_an_address_the_gazetteer_does_not_know_is_refused() -> None:
    assert placed(Address("12 rue des Tilleuls-Démo", "75011", "Paris")).lat == 48.8589
    with pytest.raises(LookupError, match="gazetteer"):
        placed(Address("1 rue Inconnue", "75011", "Paris"))


def test_the_gazetteer_is_read_only() -> None:
    with pytest.raises(TypeError):
        demo_gazetteer()["1 rue Inconnue, 75011 Paris"] = (0.0, 0.0)  # type: ignore[index]
