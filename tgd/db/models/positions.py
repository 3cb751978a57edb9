"""Positions from terminals (R-28), coordinates encrypted with the file's data key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base, str_enum, utcnow
from tgd.domain.alerts import PositionSource


class Position(Base):
    """A location fix; coordinates are personal data and never stored in clear."""

    __tablename__ = "positions"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str | None] = mapped_column(String(80), unique=True)  # idempotent intake
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(
        ForeignKey("beneficiary_files.id", ondelete="SET NULL"), index=True
    )
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id", ondelete="SET NULL"))
    coords_enc: Mapped[bytes] = mapped_column(LargeBinary)  # {"lat":…, "lon":…}
    accuracy_m: Mapped[int | None]
    confidence_pct: Mapped[int | None]
    source: Mapped[PositionSource] = mapped_column(str_enum(PositionSource))
    channel: Mapped[str] = mapped_column(String(16))  # sms, https, operator
    captured_at: Mapped[datetime] = mapped_column(index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
