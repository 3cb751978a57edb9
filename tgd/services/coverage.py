"""Network coverage ("zones blanches", Annexe 2 I.3): imports with history, point status, figures.

An import is checked before anything is written (``plan_import``: the same
checks as the police zones, plus the territory's bounds); applying it closes
the layer in force of that territory and kind, keeps it as history, and
measures what is missing: the share of each reference layer (urban areas,
roads, railways) that the coverage in force covers. ``CoverageCache`` keeps
the point-in-polygon index of the coverage in force for the console (a
residence, a workplace or an alert's position outside coverage is flagged)
and the simplified GeoJSON the console map draws. ``coverage_table`` gives the
committee report the figures in force at the end of the period.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import mapping
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tgd.db.models.coverage import CoverageLayer, CoverageMeasure
from tgd.db.models.territories import Juridiction, Territory
from tgd.domain.coverage import (
    MEASURED_KINDS,
    CheckedLayer,
    CoverageIndex,
    CoverageMap,
    CoverageStatus,
    LayerKind,
    check_layer,
    layer_size,
    measure,
)
from tgd.domain.errors import N_, ValidationError
from tgd.ports import Clock
from tgd.services import audit
from tgd.services.reports.model import Cell, Column, Scope, Table

log = logging.getLogger(__name__)
DISPLAY_TOLERANCE = 0.0005  # degrees (about 50 m): the console map's simplification


@dataclass
class ImportPlan:
    """A checked GeoJSON layer for a territory, not yet applied."""

    # Plain values, not the ORM object: the plan is made in a reading transaction and
    # applied in a write transaction of another session.
    territory_id: int | None
    territory_code: str
    kind: LayerKind | None
    checked: CheckedLayer = field(default_factory=CheckedLayer)
    errors: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def all_errors(self) -> list[tuple[str, dict[str, Any]]]:
        """Return every problem found, French templates with their parameters."""
        return [*self.errors, *self.checked.errors]

    @property
    def is_valid(self) -> bool:
        """Tell whether the import can be applied."""
        return (
            not self.errors
            and self.territory_id is not None
            and self.kind is not None
            and self.checked.is_valid
        )


@dataclass(frozen=True)
class KindFigure:
    """A reference layer in force and the share of it that the coverage covers."""

    kind: LayerKind
    layer: CoverageLayer | None
    measure: CoverageMeasure | None

    @property
    def share_pct(self) -> float | None:
        """Return the covered share in per cent, when measured."""
        m = self.measure
        return None if m is None or m.total <= 0 else min(100.0, 100.0 * m.covered / m.total)


@dataclass(frozen=True)
class TerritoryCoverage:
    """A territory's coverage in force and its three figures."""

    territory: Territory
    coverage: CoverageLayer | None
    figures: list[KindFigure]


def plan_import(session: Session, text: str, *, territory_code: str, kind: str) -> ImportPlan:
    """Check a GeoJSON layer for a territory; nothing is written."""
    territory = session.scalar(select(Territory).where(Territory.code == territory_code.strip()))
    try:
        layer_kind: LayerKind | None = LayerKind(kind)
    except ValueError:
        layer_kind = None
    plan = ImportPlan(
        territory_id=territory.id if territory else None,
        territory_code=territory.code if territory else "",
        kind=layer_kind,
    )
    if territory is None:
        plan.errors.append((N_("Territoire inconnu : %(code)s."), {"code": territory_code[:8]}))
    if layer_kind is None:
        plan.errors.append((N_("Type de couche inconnu : couverture, urbain, routes ou rail."), {}))
    if plan.errors:
        return plan
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        plan.errors.append((N_("Le fichier n'est pas du GeoJSON lisible."), {}))
        return plan
    assert territory is not None and layer_kind is not None
    plan.checked = check_layer(data, layer_kind, territory.code)
    return plan


def apply_import(
    session: Session, plan: ImportPlan, *, source_name: str, user_id: int | None, clock: Clock
) -> CoverageLayer:
    """Replace the territory's layer of that kind, keep the old one, and measure (audited)."""
    if not plan.is_valid:
        raise ValidationError(N_("L'import contient des erreurs : rien n'a été enregistré."))
    assert plan.territory_id is not None and plan.kind is not None
    geometry = plan.checked.geometry
    assert geometry is not None
    now = clock.now()
    for old in _in_force_query(session, plan.territory_id, plan.kind):
        old.valid_until = now
    layer = CoverageLayer(
        territory_id=plan.territory_id,
        kind=plan.kind,
        geometry_wkb=shapely.to_wkb(geometry),
        features=plan.checked.features,
        magnitude=layer_size(geometry, plan.kind),
        source_name=source_name.strip()[:160],
        valid_from=now,
        author_id=user_id,
    )
    session.add(layer)
    session.flush()
    measured = measure_missing(session, plan.territory_id, clock=clock)
    audit.record(
        session,
        actor=f"user:{user_id}" if user_id else "system:cli",
        action="coverage.import",
        object_type="coverage_layer",
        object_id=layer.id,
        details={
            "territory": plan.territory_code,
            "kind": plan.kind.value,
            "features": layer.features,
            "measures": measured,
        },
        clock=clock,
    )
    log.info(
        "coverage import territory=%s kind=%s features=%s",
        plan.territory_code,
        plan.kind.value,
        layer.features,
    )
    return layer


def _in_force_query(session: Session, territory_id: int, kind: LayerKind) -> list[CoverageLayer]:
    return list(
        session.scalars(
            select(CoverageLayer).where(
                CoverageLayer.territory_id == territory_id,
                CoverageLayer.kind == kind,
                CoverageLayer.valid_until.is_(None),
            )
        )
    )


def in_force(
    session: Session, territory_id: int, kind: LayerKind, *, at: datetime | None = None
) -> CoverageLayer | None:
    """Return the territory's layer of that kind in force now, or at a past instant."""
    query = select(CoverageLayer).where(
        CoverageLayer.territory_id == territory_id, CoverageLayer.kind == kind
    )
    if at is None:
        query = query.where(CoverageLayer.valid_until.is_(None))
    else:
        query = query.where(
            CoverageLayer.valid_from <= at,
            or_(CoverageLayer.valid_until.is_(None), CoverageLayer.valid_until > at),
        )
    return session.scalar(query.order_by(CoverageLayer.id.desc()).limit(1))


def measure_missing(session: Session, territory_id: int, *, clock: Clock) -> int:
    """Measure each reference layer in force against the coverage in force, once per pair."""
    coverage = in_force(session, territory_id, LayerKind.COUVERTURE)
    if coverage is None:
        return 0
    area = None
    done = 0
    for kind in MEASURED_KINDS:
        layer = in_force(session, territory_id, kind)
        if layer is None or _measure_of(session, coverage.id, layer.id) is not None:
            continue
        area = area if area is not None else shapely.from_wkb(coverage.geometry_wkb)
        result = measure(area, shapely.from_wkb(layer.geometry_wkb), kind)
        session.add(
            CoverageMeasure(
                territory_id=territory_id,
                kind=kind,
                coverage_id=coverage.id,
                layer_id=layer.id,
                total=result.total,
                covered=result.covered,
                computed_at=clock.now(),
            )
        )
        done += 1
    session.flush()
    return done


def _measure_of(session: Session, coverage_id: int, layer_id: int) -> CoverageMeasure | None:
    return session.scalar(
        select(CoverageMeasure).where(
            CoverageMeasure.coverage_id == coverage_id, CoverageMeasure.layer_id == layer_id
        )
    )


def territory_coverage(
    session: Session, territory: Territory, *, at: datetime | None = None
) -> TerritoryCoverage:
    """Return a territory's coverage and figures in force now, or at a past instant."""
    coverage = in_force(session, territory.id, LayerKind.COUVERTURE, at=at)
    figures = []
    for kind in MEASURED_KINDS:
        layer = in_force(session, territory.id, kind, at=at)
        found = (
            _measure_of(session, coverage.id, layer.id)
            if coverage is not None and layer is not None
            else None
        )
        figures.append(KindFigure(kind, layer, found))
    return TerritoryCoverage(territory, coverage, figures)


def territories(session: Session) -> list[Territory]:
    """Return the territories a layer can be imported for, by code."""
    return list(session.scalars(select(Territory).order_by(Territory.code)))


def summary(session: Session) -> list[TerritoryCoverage]:
    """Return every territory's coverage and figures in force."""
    territories = session.scalars(select(Territory).order_by(Territory.code))
    return [territory_coverage(session, t) for t in territories]


def history(session: Session, *, limit: int = 100) -> list[tuple[CoverageLayer, Territory]]:
    """Return the latest imports, newest first, with their territory."""
    return [
        (layer, territory)
        for layer, territory in session.execute(
            select(CoverageLayer, Territory)
            .join(Territory, Territory.id == CoverageLayer.territory_id)
            .order_by(CoverageLayer.id.desc())
            .limit(limit)
        )
    ]


# --- the console ----------------------------------------------------------------------------


class CoverageCache:
    """The index and map layer of the coverage in force, rebuilt when an import changes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._index = CoverageIndex([])
        self._geojson: dict[str, Any] = {"type": "FeatureCollection", "features": []}

    def _refresh(self, session: Session) -> None:
        counted = select(
            func.count(CoverageLayer.id), func.coalesce(func.max(CoverageLayer.id), 0)
        ).where(CoverageLayer.kind == LayerKind.COUVERTURE, CoverageLayer.valid_until.is_(None))
        stamp_row = session.execute(counted).one()
        stamp = (int(stamp_row[0]), int(stamp_row[1]))
        with self._lock:
            if stamp == self._stamp:
                return
            rows = session.execute(
                select(CoverageLayer, Territory)
                .join(Territory, Territory.id == CoverageLayer.territory_id)
                .where(
                    CoverageLayer.kind == LayerKind.COUVERTURE,
                    CoverageLayer.valid_until.is_(None),
                )
            ).all()
            maps, features = [], []
            for layer, territory in rows:
                geometry = shapely.from_wkb(layer.geometry_wkb)
                maps.append(CoverageMap(territory.id, geometry))
                shown = shapely.simplify(geometry, DISPLAY_TOLERANCE, preserve_topology=True)
                features.append(
                    {
                        "type": "Feature",
                        "geometry": mapping(shown),
                        "properties": {
                            "territory": territory.code,
                            "name": territory.name,
                            "since": layer.valid_from.date().isoformat(),
                        },
                    }
                )
            self._index = CoverageIndex(maps)
            self._geojson = {"type": "FeatureCollection", "features": features}
            self._stamp = stamp

    def index(self, session: Session) -> CoverageIndex:
        """Return the point-in-polygon index of the coverage in force."""
        self._refresh(session)
        return self._index

    def geojson(self, session: Session) -> dict[str, Any]:
        """Return the coverage in force, simplified for display, as a FeatureCollection."""
        self._refresh(session)
        return self._geojson


def statuses(
    session: Session, points: dict[str, tuple[float, float] | None], *, cache: CoverageCache
) -> dict[str, CoverageStatus]:
    """Tell, for each named point (lat, lon), whether the network covers it."""
    index = cache.index(session)
    return {
        name: index.status_at(*point) if point is not None else CoverageStatus.UNKNOWN
        for name, point in points.items()
    }


def place_point(address: Any, geocoded: Any = None) -> tuple[float, float] | None:
    """Return an address's point (lat, lon): its geocoded point (R-25), else its own, or None."""
    point = getattr(geocoded, "point", None)
    if point is not None:
        return (float(point[0]), float(point[1]))
    if address is None or address.lat is None or address.lon is None:
        return None
    return (float(address.lat), float(address.lon))


def file_statuses(
    session: Session,
    personal: Any,
    *,
    cache: CoverageCache,
    places: Mapping[str, Any] | None = None,
) -> dict[str, CoverageStatus]:
    """Tell whether a beneficiary's residence and workplace have network coverage."""
    places = places or {}
    return statuses(
        session,
        {
            "residence": place_point(personal.residence, places.get("residence")),
            "workplace": place_point(personal.workplace, places.get("workplace")),
        },
        cache=cache,
    )


# --- the committee report -------------------------------------------------------------------


def _pct(figure: KindFigure) -> Cell:
    share = figure.share_pct
    return None if share is None else round(share, 1)


def coverage_table(session: Session, scope: Scope, *, at: datetime) -> Table:
    """The carrier's coverage figures in force at ``at`` for the scope's territories."""
    query = select(Territory).order_by(Territory.code)
    if not scope.is_national:
        query = query.where(
            Territory.id.in_(
                select(Juridiction.territory_id).where(Juridiction.id.in_(scope.juridiction_ids))
            )
        )
    rows: list[list[Cell]] = []
    for territory in session.scalars(query):
        found = territory_coverage(session, territory, at=at)
        if found.coverage is None and not scope.is_national:
            rows.append([territory.name, "non communiquée", None, None, None])
        elif found.coverage is not None:
            rows.append(
                [
                    territory.name,
                    found.coverage.valid_from.strftime("%d/%m/%Y"),
                    *(_pct(f) for f in found.figures),
                ]
            )
    return Table(
        "couverture",
        "Couverture du réseau (zones blanches)",
        "Part des zones urbaines (surface), des axes routiers et des axes ferroviaires "
        "(longueur) couverte par le réseau de l'opérateur, selon la cartographie en vigueur à "
        "la fin de la période (CCP, annexe 2, I.3). Vide : couche de référence non fournie.",
        [
            Column("Territoire"),
            Column("Cartographie du"),
            Column("Zones urbaines (%)", "float"),
            Column("Axes routiers (%)", "float"),
            Column("Axes ferroviaires (%)", "float"),
        ],
        rows,
    )
