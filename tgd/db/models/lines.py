"""Lines, their assignment records, terminals, SIMs and swaps (DESIGN §3, §4, R-01, R-02, R-18).

A ``Line`` is the SIM line of a court's allocation (MSISDN, order number XX): it
carries the reference, whatever handset it sits in (R-01). Each assignment to a
beneficiary is a ``LineAssignment`` record with its index Y and its status;
after a termination a new record with Y+1 is created (R-02, R-17).

Terminals and SIMs come from the supplier's delivery notes (``Delivery``): a
handset with its warranty end, a SIM with its call number, delivered together;
they sit in stock until a line takes them (``lines.add_line``) or a swap puts a
spare handset on a line (R-18).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tgd.db.base import Base, str_enum, utcnow
from tgd.db.models.territories import Juridiction
from tgd.domain.lifecycle import LineStatus


class Terminal(Base):
    """A handset (hardware); can be swapped without changing the line's reference."""

    __tablename__ = "terminals"

    id: Mapped[int] = mapped_column(primary_key=True)
    imei: Mapped[str] = mapped_column(String(15), unique=True)
    model: Mapped[str] = mapped_column(String(80), default="")
    is_faulty: Mapped[bool] = mapped_column(default=False)
    warranty_end: Mapped[date | None]  # swaps are free and within 24 h until this day
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Sim(Base):
    """A SIM card (USIM), identified by its ICCID."""

    __tablename__ = "sims"

    id: Mapped[int] = mapped_column(primary_key=True)
    iccid: Mapped[str] = mapped_column(String(22), unique=True)
    msisdn: Mapped[str | None] = mapped_column(String(20), unique=True)  # E.164, as delivered
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"), index=True)
    # The handset this SIM was delivered in (one row of the delivery note): a line that
    # takes the SIM from stock takes that handset with it.
    delivered_with_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Line(Base):
    """A terminal slot of a court's allocation: MSISDN and order number XX."""

    __tablename__ = "lines"
    __table_args__ = (UniqueConstraint("juridiction_id", "order_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    juridiction_id: Mapped[int] = mapped_column(ForeignKey("juridictions.id"), index=True)
    order_no: Mapped[int]  # XX
    msisdn: Mapped[str] = mapped_column(String(20), unique=True)  # E.164; the centre's SIM line
    sim_id: Mapped[int | None] = mapped_column(ForeignKey("sims.id"), unique=True)
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"), unique=True)
    # key for the line's own secrets and for positions received while it has no file.
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    juridiction: Mapped[Juridiction] = relationship()
    sim: Mapped[Sim | None] = relationship()
    terminal: Mapped[Terminal | None] = relationship()
    assignments: Mapped[list[LineAssignment]] = relationship(
        back_populates="line", order_by="LineAssignment.assignment_index"
    )


class LineAssignment(Base):
    """One assignment record of a line: index Y, reference and status (DESIGN §4)."""

    __tablename__ = "line_assignments"
    __table_args__ = (UniqueConstraint("line_id", "assignment_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    assignment_index: Mapped[int]  # Y
    reference: Mapped[str] = mapped_column(String(24), unique=True)  # canonical text, R-03
    status: Mapped[LineStatus] = mapped_column(str_enum(LineStatus), index=True)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    available_from: Mapped[datetime | None]  # not assignable before the quarantine ends
    is_current: Mapped[bool] = mapped_column(default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    line: Mapped[Line] = relationship(back_populates="assignments")


class LineStatusChange(Base):
    """History of an assignment record's status."""

    __tablename__ = "line_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("line_assignments.id"), index=True)
    from_status: Mapped[LineStatus | None] = mapped_column(str_enum(LineStatus))
    to_status: Mapped[LineStatus] = mapped_column(str_enum(LineStatus))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Swap(Base):
    """R-18: a faulty terminal replaced on the same line, with the delay tracked."""

    __tablename__ = "swaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    old_terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"))
    new_terminal_id: Mapped[int] = mapped_column(ForeignKey("terminals.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    reported_at: Mapped[datetime]
    swapped_at: Mapped[datetime]
    cause: Mapped[str] = mapped_column(Text, default="")  # technical, never personal
    # whether the faulty handset was under warranty on the day of the report (None:
    # unknown); the 24-hour deadline binds swaps under warranty only (Annexe 2, I.4).
    under_warranty: Mapped[bool | None]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
