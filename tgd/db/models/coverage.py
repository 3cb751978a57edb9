"""The carrier's network coverage and the reference layers it is measured on (Annexe 2 I.3).

Each import is a ``CoverageLayer`` of one territory and kind (the carrier's
coverage polygons, urban areas, roads, railways), its features merged into one
geometry stored as WKB (WGS 84), valid over a period: a new import closes the
one in force (``valid_until``) and keeps it as history. ``CoverageMeasure``
keeps the share of a reference layer that a coverage map covers, computed when
either is imported, so pages and reports read figures, not geometries.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base, str_enum, utcnow
from tgd.domain.coverage import LayerKind


class CoverageLayer(Base):
    """One imported layer of a territory: coverage polygons or a reference layer."""

    __tablename__ = "coverage_layers"

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)
    kind: Mapped[LayerKind] = mapped_column(str_enum(LayerKind, length=16))
    geometry_wkb: Mapped[bytes] = mapped_column(LargeBinary)  # merged, WGS 84
    features: Mapped[int]
    magnitude: Mapped[float]  # km² (polygons) or km (lines), local equal-area projection
    source_name: Mapped[str] = mapped_column(String(160), default="")  # the file's name
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[datetime | None] = mapped_column(index=True)  # None: in force
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CoverageMeasure(Base):
    """The share of a reference layer covered by a coverage map (urban, roads, rail)."""

    __tablename__ = "coverage_measures"
    __table_args__ = (UniqueConstraint("coverage_id", "layer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)
    kind: Mapped[LayerKind] = mapped_column(str_enum(LayerKind, length=16))
    coverage_id: Mapped[int] = mapped_column(ForeignKey("coverage_layers.id"))
    layer_id: Mapped[int] = mapped_column(ForeignKey("coverage_layers.id"))
    total: Mapped[float]  # km² or km
    covered: Mapped[float]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
