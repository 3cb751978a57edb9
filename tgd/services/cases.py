"""Read models of cases for people: the beneficiary file as the operator sees it (R-20).

Decrypts what the screen needs and nothing more; the caller has already
checked the user's scope (``policy.get_scoped``) and writes the audit entry.
Lists inside the file follow the viewer's role (R-27, R-51): operators and
supervisors see every alert, test and position; the parquet only the alerts
with police action and their positions; a role without access to alerts
(the association) none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from tgd.adapters.crypto import CryptoError
from tgd.db.models.alerts import Alert
from tgd.db.models.beneficiaries import BeneficiaryFile, TemporaryInfo
from tgd.db.models.lines import Line, LineAssignment
from tgd.db.models.positions import Position
from tgd.db.models.territories import Juridiction
from tgd.db.models.users import Organisation, User
from tgd.domain.beneficiary import PersonalData
from tgd.ports import Cipher, Clock
from tgd.services import files, geocoding, policy, vault

RECENT = 10


@dataclass(frozen=True)
class TemporaryInfoView:
    """R-13: information valid for a period."""

    valid_from: datetime
    valid_until: datetime
    content: str
    is_current: bool


@dataclass(frozen=True)
class PositionView:
    """A decrypted position."""

    captured_at: datetime
    lat: float
    lon: float
    accuracy_m: int | None
    source: str


@dataclass(frozen=True)
class FileView:
    """Everything the file screen shows."""

    file: BeneficiaryFile
    reference: str
    msisdn: str
    juridiction: Juridiction
    timezone: str
    association: Organisation | None
    personal: PersonalData
    temporary: list[TemporaryInfoView]
    alerts: list[Alert]
    positions: list[PositionView]
    alerts_visible: bool = True  # False: the viewer's role has no access to alerts at all
    places: dict[str, geocoding.PlacePoint] = field(default_factory=dict)


def list_files(session: Session, user: User) -> list[tuple[BeneficiaryFile, str]]:
    """List the files the user may see, with their line reference (no personal data)."""
    query = (
        select(BeneficiaryFile, LineAssignment.reference)
        .join(LineAssignment, BeneficiaryFile.assignment_id == LineAssignment.id)
        .order_by(BeneficiaryFile.number.desc())
    )
    return [(f, ref) for f, ref in session.execute(policy.scoped(query, user, BeneficiaryFile))]


def latest_alerts(session: Session, user: User, *, limit: int) -> list[Alert]:
    """Return the latest alerts the user may see in its courts, newest first (R-27)."""
    query = policy.visible_alerts(policy.scoped(select(Alert), user, Alert), user)
    return list(session.scalars(query.order_by(Alert.id.desc()).limit(limit)))


def file_view(
    session: Session, file: BeneficiaryFile, *, viewer: User, cipher: Cipher, clock: Clock
) -> FileView:
    """Decrypt the file for display to ``viewer`` (``KeyDestroyed`` once destroyed)."""
    assignment = session.scalars(
        select(LineAssignment)
        .where(LineAssignment.id == file.assignment_id)
        .options(
            joinedload(LineAssignment.line)
            .joinedload(Line.juridiction)
            .joinedload(Juridiction.territory)
        )
    ).one()
    line = assignment.line
    return FileView(
        file=file,
        reference=assignment.reference,
        msisdn=line.msisdn,
        juridiction=line.juridiction,
        timezone=line.juridiction.territory.timezone,
        association=session.get(Organisation, file.association_id) if file.association_id else None,
        personal=files.read_personal(session, file, cipher=cipher),
        temporary=_temporary(session, file, cipher=cipher, now=clock.now()),
        alerts=list(
            session.scalars(
                policy.visible_alerts(select(Alert), viewer)
                .where(Alert.file_id == file.id, Alert.is_canary.is_(False))
                .order_by(Alert.ringing_at.desc(), Alert.id.desc())  # history in date order
                .limit(RECENT)
            )
        ),
        positions=_positions(session, file, viewer=viewer, cipher=cipher),
        alerts_visible=policy.has(viewer, policy.Permission.ALERT_READ),
        places=geocoding.points_of(session, file, cipher=cipher),
    )


def _temporary(
    session: Session, file: BeneficiaryFile, *, cipher: Cipher, now: datetime
) -> list[TemporaryInfoView]:
    rows = session.scalars(
        select(TemporaryInfo)
        .where(TemporaryInfo.file_id == file.id)
        .order_by(TemporaryInfo.valid_from.desc())
    )
    return [
        TemporaryInfoView(
            valid_from=t.valid_from,
            valid_until=t.valid_until,
            content=vault.get_text(session, cipher, t, "content_enc", key_id=file.data_key_id)
            or "",
            is_current=t.valid_from <= now <= t.valid_until,
        )
        for t in rows
    ]


def _positions(
    session: Session, file: BeneficiaryFile, *, viewer: User, cipher: Cipher
) -> list[PositionView]:
    query = select(Position).where(Position.file_id == file.id)
    if not policy.has(viewer, policy.Permission.CONSOLE):
        # Outside the console a position shows only with an alert the viewer may see.
        query = query.where(
            Position.alert_id.in_(
                policy.visible_alerts(select(Alert.id), viewer).where(Alert.file_id == file.id)
            )
        )
    rows = session.scalars(query.order_by(Position.captured_at.desc()).limit(RECENT))
    views = []
    for p in rows:
        try:
            coords: Any = vault.get_json(session, cipher, p, "coords_enc", key_id=p.data_key_id)
        except CryptoError:
            continue  # a position whose key is gone (retention) is simply not shown
        views.append(
            PositionView(p.captured_at, coords["lat"], coords["lon"], p.accuracy_m, p.source.value)
        )
    return views
