"""Where a file's addresses are, in the console (R-25): match quality, and the operator's fix.

The console shows, for the residence and the workplace of the file on screen,
how the address was placed (to the house number, the street, only the
commune, by an operator) so the operator knows whether the proposed force can
be trusted; ``static/js/geocode.js`` lets the operator place a wrong or missing
point on the map, which ``POST /api/console/fichiers/<id>/position`` records
(audited).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g, jsonify, request
from flask_babel import gettext

from dispatch_ui.security import requires
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.domain.geocoding import QUALITY_LABELS
from tgd.http import current_platform, db_session
from tgd.services import geocoding, policy
from tgd.services.policy import Permission

api = Blueprint("console_geocode", __name__, url_prefix="/api/console/fichiers")


def geocode_places(points: dict[str, geocoding.PlacePoint]) -> dict[str, Any]:
    """Describe each address's point for the console (no coordinates beyond the point)."""
    labels = {
        geocoding.PENDING: gettext("Adresse en cours de géolocalisation."),
        geocoding.NOT_FOUND: gettext("Adresse introuvable : placez-la sur la carte."),
    }
    places: dict[str, Any] = {}
    for place, p in points.items():
        if p.status == geocoding.EMPTY:
            continue
        text = gettext(QUALITY_LABELS[p.quality]) if p.quality else labels.get(p.status, "")
        places[place] = {
            "status": p.status,
            "quality": p.quality.value if p.quality else None,
            "text": text,
            "score": round(p.score, 2) if p.score is not None else None,
            "matched": p.label,
            "point": list(p.point) if p.point else None,
        }
    return places


@api.post("/<int:file_id>/position")
@requires(Permission.CONSOLE)
def correct(file_id: int) -> Any:
    """Place an address of the file on the map by hand (a wrong or missing match)."""
    platform = current_platform()
    file = policy.get_scoped(db_session(), g.user, BeneficiaryFile, file_id)
    data = request.get_json(silent=True) or {}
    place = str(data.get("place", ""))
    geocoding.correct(
        db_session(),
        file,
        place,
        lat=data.get("lat"),
        lon=data.get("lon"),
        user=g.user,
        cipher=platform.cipher,
        clock=platform.clock,
    )
    return jsonify(ok=True)


def init_app(app: Flask) -> None:
    """Register the address-correction API."""
    app.register_blueprint(api)
