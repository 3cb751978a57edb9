"""Territories (with their IANA time zone, R-34) and juridictions (courts, by INSEE code)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tgd.db.base import Base, utcnow


class Territory(Base):
    """A département or overseas collectivity served by the centre, with its own clock."""

    __tablename__ = "territories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(3), unique=True)  # département code: 75, 2A, 974, 975
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name, e.g. America/Miquelon
    backup_number: Mapped[str | None] = mapped_column(String(20))  # R-23b overflow, E.164
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    juridictions: Mapped[list[Juridiction]] = relationship(back_populates="territory")


class Juridiction(Base):
    """A court (tribunal judiciaire) and its parquet, identified by its commune's INSEE code."""

    __tablename__ = "juridictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    insee: Mapped[str] = mapped_column(String(5), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id"), index=True)
    parquet_phone: Mapped[str | None] = mapped_column(
        String(20)
    )  # the office's line, not a person's
    parquet_email: Mapped[str | None] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    territory: Mapped[Territory] = relationship(back_populates="juridictions")
