"""Administration of police/gendarmerie zones and units, with history (R-25).

An import is checked before anything is written: every feature must be a
valid Polygon or MultiPolygon in WGS 84 naming a known unit; overlaps between
different units' zones are measured and shown to the administrator, who
confirms them or fixes the file. Applying an import closes each unit's zone
in force (``valid_until``) and adds the new one; priority-number changes are
kept in ``PriorityNumberChange``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity
from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.forces import ForceUnit, PriorityNumberChange, Zone
from tgd.db.models.users import User
from tgd.domain.beneficiary import normalise_phone
from tgd.domain.errors import N_, NOT_FOUND_OR_HIDDEN, NotFound, ValidationError
from tgd.ports import Clock
from tgd.services import audit

MAX_FEATURES = 5000
OVERLAP_TOLERANCE = 0.001  # shares of the smaller zone below this are drawing noise


@dataclass
class ImportPlan:
    """A checked GeoJSON import, not yet applied."""

    zones: dict[int, BaseGeometry] = field(default_factory=dict)  # unit id -> geometry
    errors: list[tuple[str, dict[str, Any]]] = field(
        default_factory=list
    )  # French template, params
    overlaps: list[tuple[str, str, float]] = field(default_factory=list)  # unit, unit, share

    @property
    def is_valid(self) -> bool:
        """Tell whether the import can be applied."""
        return not self.errors and bool(self.zones)


def plan_import(session: Session, text: str) -> ImportPlan:
    """Check a GeoJSON FeatureCollection of zones; say what is wrong, measure overlaps."""
    plan = ImportPlan()
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        plan.errors.append((N_("Le fichier n'est pas du GeoJSON lisible."), {}))
        return plan
    features = data.get("features") if isinstance(data, dict) else None
    if data.get("type") != "FeatureCollection" or not isinstance(features, list):
        plan.errors.append((N_("Le fichier doit être une FeatureCollection GeoJSON."), {}))
        return plan
    if len(features) > MAX_FEATURES:
        plan.errors.append(
            (N_("Trop de zones dans un seul fichier (%(n)s au plus)."), {"n": MAX_FEATURES})
        )
        return plan
    units = {u.id: u for u in session.scalars(select(ForceUnit))}
    for number, feature in enumerate(features, start=1):
        _check_feature(plan, number, feature, units)
    names = {uid: units[uid].name for uid in plan.zones}
    for (a, ga), (b, gb) in combinations(plan.zones.items(), 2):
        if ga.intersects(gb):
            share = ga.intersection(gb).area / max(min(ga.area, gb.area), 1e-12)
            if share > OVERLAP_TOLERANCE:
                plan.overlaps.append((names[a], names[b], round(share * 100, 1)))
    return plan


def _check_feature(
    plan: ImportPlan, number: int, feature: Any, units: dict[int, ForceUnit]
) -> None:
    props = feature.get("properties") or {} if isinstance(feature, dict) else {}
    unit_id = props.get("unit_id")
    if not isinstance(unit_id, int) or unit_id not in units:
        plan.errors.append(
            (N_("Zone n° %(n)s : « unit_id » ne désigne aucune unité connue."), {"n": number})
        )
        return
    try:
        geometry = shape(feature["geometry"])
    except (KeyError, TypeError, ValueError, AttributeError):
        plan.errors.append((N_("Zone n° %(n)s : géométrie illisible."), {"n": number}))
        return
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        plan.errors.append(
            (
                N_("Zone n° %(n)s : un polygone est attendu, pas « %(t)s »."),
                {"n": number, "t": geometry.geom_type},
            )
        )
        return
    minx, miny, maxx, maxy = geometry.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        plan.errors.append(
            (N_("Zone n° %(n)s : coordonnées hors du WGS 84 (longitude, latitude)."), {"n": number})
        )
        return
    if not geometry.is_valid:
        plan.errors.append(
            (
                N_("Zone n° %(n)s : polygone invalide (%(why)s)."),
                {"n": number, "why": explain_validity(geometry)},
            )
        )
        return
    if unit_id in plan.zones:
        plan.errors.append(
            (N_("Zone n° %(n)s : l'unité a déjà une zone dans ce fichier."), {"n": number})
        )
        return
    plan.zones[unit_id] = geometry


def apply_import(session: Session, plan: ImportPlan, user: User, *, clock: Clock) -> int:
    """Replace the zones in force of the imported units, keeping the old ones as history."""
    if not plan.is_valid:
        raise ValidationError(N_("L'import contient des erreurs : rien n'a été enregistré."))
    now = clock.now()
    for unit_id, geometry in plan.zones.items():
        for old in session.scalars(
            select(Zone).where(Zone.unit_id == unit_id, Zone.valid_until.is_(None))
        ):
            old.valid_until = now
        session.add(
            Zone(
                unit_id=unit_id,
                geometry_geojson=json.dumps(mapping(geometry)),
                valid_from=now,
                author_id=user.id,
            )
        )
    session.flush()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="zones.import",
        details={"units": len(plan.zones), "overlaps": len(plan.overlaps)},
        clock=clock,
    )
    return len(plan.zones)


def update_unit(
    session: Session,
    unit: ForceUnit,
    user: User,
    *,
    name: str,
    priority_number: str,
    callback_number: str,
    is_active: bool,
    clock: Clock,
) -> None:
    """Edit a unit; a new priority number is kept in the history (R-25)."""
    if not name.strip():
        raise ValidationError(N_("Le nom de l'unité est obligatoire."))
    number = normalise_phone(priority_number)
    callback = normalise_phone(callback_number) if callback_number.strip() else None
    if number != unit.priority_number:
        session.add(
            PriorityNumberChange(
                unit_id=unit.id,
                old_number=unit.priority_number,
                new_number=number,
                at=clock.now(),
                author_id=user.id,
            )
        )
        unit.priority_number = number
    unit.name, unit.callback_number, unit.is_active = name.strip(), callback, is_active
    session.flush()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="unit.update",
        object_type="unit",
        object_id=unit.id,
        clock=clock,
    )


def get_unit(session: Session, unit_id: int) -> ForceUnit:
    """Fetch a unit (active or not), or raise ``NotFound``."""
    unit = session.get(ForceUnit, unit_id)
    if unit is None:
        raise NotFound(NOT_FOUND_OR_HIDDEN)
    return unit


def list_units(session: Session) -> list[ForceUnit]:
    """List the units, by territory then name."""
    return list(session.scalars(select(ForceUnit).order_by(ForceUnit.territory_id, ForceUnit.name)))


def units_with_zone(session: Session) -> set[int]:
    """Return the ids of the units that have a zone in force."""
    return {z.unit_id for z in session.scalars(select(Zone).where(Zone.valid_until.is_(None)))}


def number_history(session: Session, unit_id: int) -> list[PriorityNumberChange]:
    """Return a unit's priority-number changes, newest first."""
    return list(
        session.scalars(
            select(PriorityNumberChange)
            .where(PriorityNumberChange.unit_id == unit_id)
            .order_by(PriorityNumberChange.at.desc())
        )
    )


def zone_history(session: Session, unit_id: int) -> list[Zone]:
    """Return a unit's zones, in force and past, newest first."""
    return list(
        session.scalars(
            select(Zone).where(Zone.unit_id == unit_id).order_by(Zone.valid_from.desc())
        )
    )


def export_geojson(session: Session) -> dict[str, Any]:
    """Return the zones in force as a FeatureCollection ready to edit and re-import."""
    rows = session.execute(
        select(Zone, ForceUnit)
        .join(ForceUnit, Zone.unit_id == ForceUnit.id)
        .where(Zone.valid_until.is_(None))
        .order_by(ForceUnit.id)
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": json.loads(z.geometry_geojson),
                "properties": {"unit_id": u.id, "name": u.name, "kind": u.kind.value},
            }
            for z, u in rows
        ],
    }
