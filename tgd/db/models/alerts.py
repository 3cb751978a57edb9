"""Alerts (calls from terminals), their call legs and the carrier idempotency receipts.

R-21/E-03: ``Alert.call_sid`` and ``WebhookReceipt.key`` are unique, so a
repeated delivery finds the first row instead of creating a second one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base, str_enum, utcnow
from tgd.domain.alerts import AlertNature, AlertState, LegRole, Orientation
from tgd.domain.restrictions import Channel


class Alert(Base):
    """A call from a terminal, or from an unknown number (R-22), and how it was handled."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territories.id"), index=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("line_assignments.id"))
    file_id: Mapped[int | None] = mapped_column(
        ForeignKey("beneficiary_files.id", ondelete="SET NULL"), index=True
    )
    reference: Mapped[str | None] = mapped_column(String(24), index=True)  # anonymous, kept
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id", ondelete="SET NULL"))
    caller_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # unknown callers only
    conference_name: Mapped[str] = mapped_column(String(64), unique=True)  # opaque (R-24b)
    conference_sid: Mapped[str | None] = mapped_column(String(64))  # the carrier's, once started
    state: Mapped[AlertState] = mapped_column(str_enum(AlertState), index=True)
    nature: Mapped[AlertNature] = mapped_column(str_enum(AlertNature))
    orientation: Mapped[Orientation | None] = mapped_column(str_enum(Orientation))
    is_test: Mapped[bool] = mapped_column(default=False)
    is_canary: Mapped[bool] = mapped_column(default=False)  # R-24c: never in reports
    ringing_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]  # caller joined the bridge
    claimed_at: Mapped[datetime | None]
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    escalated_at: Mapped[datetime | None]
    overflowed_at: Mapped[datetime | None]  # R-23b
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("force_units.id"))
    police_called_at: Mapped[datetime | None]  # R-29 answer-to-police
    ended_at: Mapped[datetime | None]
    bridge_lost_at: Mapped[datetime | None]  # R-24b: bridge ended while the alert was open
    callback_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))  # R-24b
    closed_at: Mapped[datetime | None]
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    non_compliance_cause: Mapped[str | None] = mapped_column(Text)  # R-27, no personal data
    # Annexe 2 I.1: the terminal tried to reach a number outside its line's allow-list on this
    # channel ("voix", "sms"); the number it tried is personal data, kept encrypted.
    restricted_channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, length=8))
    dialled_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallLeg(Base):
    """One participant's call in an alert's conference bridge."""

    __tablename__ = "call_legs"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    role: Mapped[LegRole] = mapped_column(str_enum(LegRole))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("force_units.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(24), default="queued")  # carrier's status word
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[int | None]
    # Why the carrier refused or could not place the leg (its error code, never a number).
    failure: Mapped[str | None] = mapped_column(String(200))


class WebhookReceipt(Base):
    """E-03: the first answer to a carrier event, replayed for any duplicate delivery."""

    __tablename__ = "webhook_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)  # carrier id + event type
    response_body: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(64), default="text/xml")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
