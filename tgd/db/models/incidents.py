"""Incidents: terminal faults and malfunctions, as tickets of the assistance centre (R-18).

A parquet or an association reports a fault (portal, or a phone call the
operator records); the ticket carries when it was received, when its clock
started (the next opening of the assistance centre when received outside its
hours), the deadline of a swap under warranty, the diagnosis, the advice given
and how it ended. What the reporter wrote and who to call back are personal
(they may name the person or a member of staff): they are encrypted under the
file's key, or the line's when it has no file (R-52). Everything else is
technical and feeds the committee tables 4 and 10 (DESIGN §7).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base, str_enum, utcnow
from tgd.domain.errors import N_


class IncidentKind(enum.StrEnum):
    """What went wrong."""

    PANNE_TERMINAL = "panne_terminal"
    BATTERIE = "batterie"
    ZONE_BLANCHE = "zone_blanche"
    PERTE_VOL = "perte_vol"
    RESEAU = "reseau"
    PLATEFORME = "plateforme"
    AUTRE = "autre"

    @property
    def label(self) -> str:
        """Return the French label shown to users."""
        return INCIDENT_KIND_LABELS[self]


INCIDENT_KIND_LABELS = {
    IncidentKind.PANNE_TERMINAL: N_("panne du terminal"),
    IncidentKind.BATTERIE: N_("batterie"),
    IncidentKind.ZONE_BLANCHE: N_("zone blanche"),
    IncidentKind.PERTE_VOL: N_("perte ou vol"),
    IncidentKind.RESEAU: N_("réseau de l'opérateur"),
    IncidentKind.PLATEFORME: N_("plateforme de téléassistance"),
    IncidentKind.AUTRE: N_("autre"),
}


class TicketStatus(enum.StrEnum):
    """Where a fault ticket stands."""

    OUVERT = "ouvert"  # received, waiting for the diagnosis (queued when the centre is closed)
    EN_COURS = "en_cours"  # diagnosed: follow-up or a swap to do
    RESOLU = "resolu"  # closed: advice, swap, or nothing to do

    @property
    def label(self) -> str:
        """Return the French label shown to users."""
        return TICKET_STATUS_LABELS[self]


TICKET_STATUS_LABELS = {
    TicketStatus.OUVERT: N_("reçu, en attente de diagnostic"),
    TicketStatus.EN_COURS: N_("diagnostiqué, en cours de traitement"),
    TicketStatus.RESOLU: N_("résolu"),
}


class TicketChannel(enum.StrEnum):
    """How the fault reached the centre."""

    PORTAIL = "portail"
    TELEPHONE = "telephone"
    AUTRE = "autre"  # recorded otherwise (older records, the platform itself)


class TicketResolution(enum.StrEnum):
    """How a ticket ended."""

    CONSEIL = "conseil"  # the advice given fixed it
    ECHANGE = "echange"  # terminal swapped under warranty
    ECHANGE_HORS_GARANTIE = "echange_hors_garantie"  # swapped, at the price of the annex
    SANS_SUITE = "sans_suite"  # no fault found, or nothing the centre can do

    @property
    def label(self) -> str:
        """Return the French label shown to users and in reports."""
        return TICKET_RESOLUTION_LABELS[self]


TICKET_RESOLUTION_LABELS = {
    TicketResolution.CONSEIL: N_("résolu par les conseils donnés"),
    TicketResolution.ECHANGE: N_("terminal échangé sous garantie"),
    TicketResolution.ECHANGE_HORS_GARANTIE: N_("terminal échangé hors garantie"),
    TicketResolution.SANS_SUITE: N_("sans suite"),
}


class Incident(Base):
    """A reported malfunction: a ticket of the assistance centre (R-18)."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[IncidentKind] = mapped_column(str_enum(IncidentKind))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"), index=True)
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"))
    reported_by_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)  # received by the centre
    description: Mapped[str] = mapped_column(Text, default="")  # technical, never personal
    diagnosis: Mapped[str] = mapped_column(Text, default="")  # technical, never personal
    answer: Mapped[str] = mapped_column(Text, default="")  # the advice given; technical
    resolved_at: Mapped[datetime | None]
    status: Mapped[TicketStatus] = mapped_column(
        str_enum(TicketStatus), default=TicketStatus.OUVERT, index=True
    )
    channel: Mapped[TicketChannel] = mapped_column(
        str_enum(TicketChannel), default=TicketChannel.AUTRE
    )
    reporter_kind: Mapped[str | None] = mapped_column(String(16))  # parquet, association
    reported_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # R-18, CCP X.4: the clock starts at reception during opening hours, else at the next
    # opening; a swap under warranty is due 24 opening hours later.
    clock_started_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None]
    diagnosed_at: Mapped[datetime | None]
    handled_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    needs_swap: Mapped[bool | None]
    under_warranty: Mapped[bool | None]  # on the day of the report (None: unknown)
    resolution: Mapped[TicketResolution | None] = mapped_column(str_enum(TicketResolution))
    # what the reporter wrote and who to call back, encrypted (JSON).
    file_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiary_files.id"), index=True)
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id", ondelete="SET NULL"))
    report_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
