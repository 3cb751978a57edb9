"""Incidents: terminal faults and malfunctions, with diagnosis (R-18; §7 tables 4, 10)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base, str_enum, utcnow


class IncidentKind(enum.StrEnum):
    """What went wrong."""

    PANNE_TERMINAL = "panne_terminal"
    BATTERIE = "batterie"
    ZONE_BLANCHE = "zone_blanche"
    PERTE_VOL = "perte_vol"
    RESEAU = "reseau"
    PLATEFORME = "plateforme"
    AUTRE = "autre"


class Incident(Base):
    """A reported malfunction; technical description only, never personal data."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[IncidentKind] = mapped_column(str_enum(IncidentKind))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"), index=True)
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"))
    reported_by_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    description: Mapped[str] = mapped_column(Text, default="")
    diagnosis: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None]
