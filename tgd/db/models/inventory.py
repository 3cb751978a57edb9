"""Supplier delivery notes: what was delivered, when, from which file (DESIGN §7 table 2).

One ``Delivery`` per imported note (``tgd inventory import``, or the upload on
the line administration page); its terminals and SIMs point back to it. A
note is imported whole or not at all, so a delivery row always has every row
of its file behind it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base, utcnow


class Delivery(Base):
    """One supplier delivery note, imported all or nothing."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))  # the note's file name, no path
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # of the file's bytes
    terminals: Mapped[int]
    sims: Mapped[int]
    actor: Mapped[str] = mapped_column(String(64))  # user:ID or system:cli
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
