"""Demo data of line operations (issue 15), loaded by ``tgd demo load`` after the demo itself.

Paris gets the carrier's coverage with a white zone around one demo residence (so the
console's warning and map layer show), synthetic urban, road and rail layers (so the
percentages show), and one line restricted at a fictitious parquet request. All
numbers are in ARCEP's fiction ranges.
"""

from __future__ import annotations

import json
from datetime import timedelta

from shapely.geometry import LineString, Polygon, box, mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.lines import Line
from tgd.ports import Cipher, Clock
from tgd.services import coverage, restrictions

# Covered Paris, but for a white zone around the residence of the line +33612340002.
WHITE_ZONE = [(2.395, 48.862), (2.403, 48.862), (2.403, 48.866), (2.395, 48.866)]
LAYERS: dict[str, list[BaseGeometry]] = {
    "couverture": [Polygon([(2.2, 48.8), (2.47, 48.8), (2.47, 48.91), (2.2, 48.91)], [WHITE_ZONE])],
    "urbain": [box(2.25, 48.815, 2.42, 48.9)],
    "routes": [
        LineString([(2.2, 48.864), (2.5, 48.864)]),  # crosses the white zone, leaves the map
        LineString([(2.35, 48.8), (2.35, 48.91)]),
    ],
    "rail": [LineString([(2.32, 48.84), (2.40, 48.87), (2.45, 48.88)])],
}
RESTRICTED_LINE = "+33612340002"
ALLOWED_VOICE = ("+33639981234", "+33199001234")  # fiction ranges: a relative, the association
ALLOWED_SMS = ("+33639981234",)


def load(session: Session, *, cipher: Cipher, clock: Clock) -> None:
    """Add the demo coverage of Paris and one restricted line."""
    for kind, geometries in LAYERS.items():
        text = json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "geometry": mapping(g)} for g in geometries],
            }
        )
        plan = coverage.plan_import(session, text, territory_code="75", kind=kind)
        coverage.apply_import(
            session, plan, source_name=f"demo-{kind}.geojson", user_id=None, clock=clock
        )
    line = session.scalar(select(Line).where(Line.msisdn == RESTRICTED_LINE))
    if line is not None:
        restrictions.set_restriction(
            session,
            line,
            voice=ALLOWED_VOICE,
            sms=ALLOWED_SMS,
            request_ref="courrier du parquet n° DEMO-2026-001",
            requested_on=(clock.now() - timedelta(days=3)).date(),
            user_id=None,
            cipher=cipher,
            clock=clock,
        )
