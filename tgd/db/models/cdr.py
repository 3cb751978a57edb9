"""Carrier call detail records imported from the carrier's call log (§7 tables 3 and 7).

Calls through our own gateway are already known (alerts and their call legs);
these rows fill in the other calls of a terminal's SIM: numbers it called and
for how long. A counterpart that is an institution (the centre, an emergency
number, a police or gendarmerie unit, an association) is kept in clear with
its kind; any other number is a private person's: it is only stored encrypted
with the file's data key (R-52), so destroying the file makes it unreadable.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base, utcnow


class CarrierCallRecord(Base):
    """One call of a terminal's SIM from the carrier's call log (no personal data in clear)."""

    __tablename__ = "carrier_call_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)  # idempotent import
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(
        ForeignKey("beneficiary_files.id", ondelete="SET NULL"), index=True
    )
    direction: Mapped[str] = mapped_column(String(16))  # sortant (from the terminal) or entrant
    counterpart_kind: Mapped[str] = mapped_column(String(16))  # centre, urgence, forces, ...
    counterpart_number: Mapped[str | None] = mapped_column(String(20))  # institutions only
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id", ondelete="SET NULL"))
    counterpart_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # private numbers
    status: Mapped[str] = mapped_column(String(24), default="completed")
    started_at: Mapped[datetime] = mapped_column(index=True)
    duration_s: Mapped[int] = mapped_column(default=0)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
