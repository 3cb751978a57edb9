"""Read models of the operators' console: the live board and one alert with its file (R-20, R-25).

``alert_detail`` decrypts what the operator needs at once (the file, the
positions), chooses the best position and proposes the competent unit by
point-in-polygon over the zones in force. The zone index is rebuilt only
when the zones change.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tgd.adapters.crypto import CryptoError
from tgd.db.models.alerts import Alert
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.forces import ForceUnit, Zone
from tgd.db.models.positions import Position
from tgd.db.models.territories import Territory
from tgd.db.models.users import User
from tgd.domain.alerts import AlertState, PositionSource
from tgd.domain.coverage import CoverageStatus
from tgd.domain.zones import (
    Candidate,
    Fix,
    PositionKind,
    ZoneIndex,
    best_position,
    zone_from_geojson,
)
from tgd.ports import Cipher, Clock
from tgd.services import cases, geocoding, vault
from tgd.services import coverage as coverage_service

RECENT_POSITIONS = 20
WORK_HOURS = range(8, 19)  # local hours when the workplace is the likely place (Mon–Fri)


@dataclass
class Proposal:
    """The proposed competent unit and why (R-25)."""

    unit: ForceUnit | None
    candidate: Candidate | None


@dataclass
class AlertDetail:
    """Everything the console shows for one alert."""

    alert: Alert
    timezone: str
    file: cases.FileView | None
    fixes: list[Fix]
    proposal: Proposal
    units: list[ForceUnit]
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    points: dict[str, geocoding.PlacePoint] = field(default_factory=dict)  # addresses


def board(session: Session) -> list[Alert]:
    """Return the open alerts, oldest first (canaries never show, R-24c)."""
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.state != AlertState.CLOSED, Alert.is_canary.is_(False))
            .order_by(Alert.ringing_at)
        )
    )


class ZoneCache:
    """The zone index of the zones in force, rebuilt when they change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._index = ZoneIndex([])

    def index(self, session: Session) -> ZoneIndex:
        """Return the index of the zones in force."""
        stamp_row = session.execute(
            select(func.count(Zone.id), func.coalesce(func.max(Zone.id), 0)).where(
                Zone.valid_until.is_(None)
            )
        ).one()
        stamp = (int(stamp_row[0]), int(stamp_row[1]))
        with self._lock:
            if stamp != self._stamp:
                rows = session.scalars(select(Zone).where(Zone.valid_until.is_(None)))
                self._index = ZoneIndex(
                    [zone_from_geojson(z.unit_id, json.loads(z.geometry_geojson)) for z in rows]
                )
                self._stamp = stamp
            return self._index


def fixes_for(session: Session, alert: Alert, *, cipher: Cipher) -> list[Fix]:
    """Decrypt the latest positions of the alert's line (or of the alert itself)."""
    query = select(Position).order_by(Position.captured_at.desc()).limit(RECENT_POSITIONS)
    query = (
        query.where(Position.line_id == alert.line_id)
        if alert.line_id
        else query.where(Position.alert_id == alert.id)
    )
    fixes = []
    for p in session.scalars(query):
        try:
            coords = vault.get_json(session, cipher, p, "coords_enc", key_id=p.data_key_id)
        except CryptoError:
            continue  # expired by retention (R-16b) or destroyed
        fixes.append(
            Fix(
                float(coords["lat"]),
                float(coords["lon"]),
                p.accuracy_m,
                p.captured_at,
                p.source is PositionSource.GNSS,
            )
        )
    return fixes


def place_point(
    file: cases.FileView | None, points: dict[str, geocoding.PlacePoint], place: str
) -> tuple[float, float] | None:
    """R-25: an address's point: geocoded (or placed by an operator), else written on the file."""
    found = points.get(place)
    if found is not None and found.point is not None:
        return found.point
    if file is None:
        return None
    address: Any = getattr(file.personal, place)
    if address.lat is not None and address.lon is not None:
        return (float(address.lat), float(address.lon))
    return None


def propose(
    session: Session,
    alert: Alert,
    fixes: list[Fix],
    file: cases.FileView | None,
    *,
    zones: ZoneCache,
    now: datetime,
    timezone: str,
    points: dict[str, geocoding.PlacePoint] | None = None,
) -> Proposal:
    """Choose the best position and the unit competent there (R-25)."""
    local = now.astimezone(ZoneInfo(timezone))
    at_work = local.weekday() < 5 and local.hour in WORK_HOURS
    points = points or {}
    candidate = best_position(
        fixes,
        now=now,
        workplace=place_point(file, points, "workplace"),
        at_work=at_work,
        residence=place_point(file, points, "residence"),
    )
    if candidate is None:
        return Proposal(None, None)
    unit_id = zones.index(session).unit_at(candidate.lat, candidate.lon)
    return Proposal(session.get(ForceUnit, unit_id) if unit_id else None, candidate)


def alert_detail(
    session: Session,
    alert: Alert,
    *,
    cipher: Cipher,
    clock: Clock,
    zones: ZoneCache,
    default_timezone: str,
    viewer: User,
    coverage: coverage_service.CoverageCache | None = None,
) -> AlertDetail:
    """Gather the alert, its decrypted file and positions, the proposed unit and coverage."""
    territory = session.get(Territory, alert.territory_id) if alert.territory_id else None
    timezone = territory.timezone if territory else default_timezone
    file_row = session.get(BeneficiaryFile, alert.file_id) if alert.file_id else None
    file = None
    points: dict[str, geocoding.PlacePoint] = {}
    if file_row is not None and file_row.data_key_id is not None:
        file = cases.file_view(session, file_row, viewer=viewer, cipher=cipher, clock=clock)
        points = geocoding.points_of(session, file_row, cipher=cipher)
    fixes = fixes_for(session, alert, cipher=cipher)
    proposal = propose(
        session,
        alert,
        fixes,
        file,
        zones=zones,
        now=clock.now(),
        timezone=timezone,
        points=points,
    )
    extra: dict[str, Any] = {}
    if coverage is not None:  # issue 15: residence, workplace, position outside coverage
        places = (
            coverage_service.file_statuses(session, file.personal, cache=coverage, places=points)
            if file
            else {}
        )
        position = coverage_service.statuses(
            session, {"position": (fixes[0].lat, fixes[0].lon) if fixes else None}, cache=coverage
        )
        extra["coverage"] = {
            "residence": places.get("residence", CoverageStatus.UNKNOWN),
            "workplace": places.get("workplace", CoverageStatus.UNKNOWN),
            **position,
        }
    if alert.restricted_channel is not None and alert.dialled_number_enc is not None:
        try:  # Annexe 2 I.1: the number the terminal tried, outside its allow-list
            extra["dialled"] = vault.get_text(
                session, cipher, alert, "dialled_number_enc", key_id=alert.data_key_id
            )
        except CryptoError:
            extra["dialled"] = None
    units_query = select(ForceUnit).where(ForceUnit.is_active.is_(True)).order_by(ForceUnit.name)
    if alert.territory_id:
        units_query = units_query.where(ForceUnit.territory_id == alert.territory_id)
    return AlertDetail(
        alert=alert,
        timezone=timezone,
        file=file,
        fixes=fixes,
        proposal=proposal,
        units=list(session.scalars(units_query)),
        extra=extra,
        points=points,
    )


def age_seconds(alert: Alert, now: datetime) -> int:
    """Return how long the alert has been waiting or running."""
    return max(0, int((now - alert.ringing_at) / timedelta(seconds=1)))


__all__ = ["AlertDetail", "PositionKind", "Proposal", "ZoneCache", "alert_detail", "board"]
