"""The demo gazetteer: where the demo's fictitious addresses are (R-25, embedded mode).

One source for two users: the demo's beneficiaries (``tgd.services.demo``) take
their coordinates from it, and the composition root gives it to the offline geocoder
(``FakeGeocoder``, ``[geocoder] backend = "fake"``), which then places those
addresses to the house number. The data is ``tgd/data/demo_gazetteer.json``: each
address on one line, as ``Address.one_line`` writes it, with its [latitude,
longitude]; it is read once, lazily, on first use.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from types import MappingProxyType

from tgd.domain.beneficiary import Address

DEMO_GAZETTEER_RESOURCE = "data/demo_gazetteer.json"


@functools.cache
def demo_gazetteer() -> Mapping[str, tuple[float, float]]:
    """Return the demo's addresses, one line each, with their (lat, lon); read-only."""
    path = resources.files("tgd").joinpath(DEMO_GAZETTEER_RESOURCE)
    with path.open("r", encoding="utf-8") as handle:
        addresses = json.load(handle)["addresses"]
    return MappingProxyType(
        {line: (float(lat), float(lon)) for line, (lat, lon) in addresses.items()}
    )


def placed(address: Address) -> Address:
    """Return a demo address with its coordinates from the gazetteer (which must know it)."""
    try:
        lat, lon = demo_gazetteer()[address.one_line()]
    except KeyError:
        raise LookupError(f"{address.one_line()!r} is not in {DEMO_GAZETTEER_RESOURCE}") from None
    return replace(address, lat=lat, lon=lon)
