"""Positions from terminals (R-28), coordinates encrypted with the file's data key.

Also the credentials data-capable terminals sign their HTTPS positions with
(R-54), the nonces already seen (replay refused) and the on-demand position
requests sent to terminals.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
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


class TerminalCredential(Base):
    """R-54: the per-line HMAC secret a data-capable terminal signs its positions with."""

    __tablename__ = "terminal_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40), unique=True)  # opaque, sent in a header
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)  # under the line's data key
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class TerminalNonce(Base):
    """R-54: a nonce already used by a terminal; a second use is a replay."""

    __tablename__ = "terminal_nonces"
    __table_args__ = (UniqueConstraint("credential_id", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("terminal_credentials.id"))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(index=True)


class PositionRequest(Base):
    """R-28: an on-demand position request sent to a terminal by SMS command."""

    __tablename__ = "position_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    message_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]  # the first position received after it
