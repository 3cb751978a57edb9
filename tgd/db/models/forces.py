"""Police and gendarmerie units, their zones (with history) and priority lines (R-25, R-26)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tgd.db.base import Base, str_enum, utcnow
from tgd.db.models.territories import Territory
from tgd.domain.alerts import ForceKind


class ForceUnit(Base):
    """A police or gendarmerie operations room reachable on its priority line."""

    __tablename__ = "force_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)
    kind: Mapped[ForceKind] = mapped_column(str_enum(ForceKind))
    name: Mapped[str] = mapped_column(String(160))
    priority_number: Mapped[str] = mapped_column(String(20))  # E.164, the ligne prioritaire
    callback_number: Mapped[str | None] = mapped_column(
        String(20)
    )  # recognised on counter-call
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    territory: Mapped[Territory] = relationship()
    zones: Mapped[list[Zone]] = relationship(back_populates="unit", order_by="Zone.valid_from")


class Zone(Base):
    """A unit's zone of competence as GeoJSON geometry, valid over a period (history)."""

    __tablename__ = "zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("force_units.id"), index=True)
    geometry_geojson: Mapped[str] = mapped_column(Text)  # Polygon or MultiPolygon, WGS 84
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[datetime | None]  # None: the zone in force
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    unit: Mapped[ForceUnit] = relationship(back_populates="zones")


class PriorityNumberChange(Base):
    """History of a unit's priority number (R-25: maintained with history)."""

    __tablename__ = "priority_number_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("force_units.id"), index=True)
    old_number: Mapped[str | None] = mapped_column(String(20))
    new_number: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
