"""Wrapped data keys (R-52, E-07): one per beneficiary file (or unidentified alert).

Deleting a row here is crypto-shredding: every ciphertext made with that key,
in this database and in every copy or backup of it, becomes unreadable.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base, utcnow


class DataKey(Base):
    """A 256-bit data key, stored only wrapped by a master key."""

    __tablename__ = "data_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))  # "file", "alert", "user", "intake"
    master_key_id: Mapped[str] = mapped_column(String(64), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rewrapped_at: Mapped[datetime | None]
