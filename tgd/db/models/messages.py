"""SMS the centre receives that are not positions: texts from unknown numbers or from terminals.

A person in danger may text from another phone (R-22's spirit, for SMS): the
message is kept for the operators instead of being refused. The sender's
number (unknown senders only) and the text are personal data, encrypted under
the file's key, the line's key, or — unknown sender — a key of their own
(R-52). Only ids and times are in clear.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base, utcnow


class InboundSms(Base):
    """One SMS kept for the operators, until one of them has read it."""

    __tablename__ = "inbound_sms"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(80), unique=True)  # E-03: stored once
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(
        ForeignKey("beneficiary_files.id", ondelete="SET NULL"), index=True
    )
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territories.id"))
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id", ondelete="SET NULL"))
    sender_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # unknown senders only
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    read_at: Mapped[datetime | None]
    read_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
