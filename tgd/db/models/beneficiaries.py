"""Beneficiary files, their versions, temporary information and commissioning steps.

Personal data (identity, residence, workplace, other numbers, notes, contacts)
never sits in clear: each ``FileVersion`` holds one encrypted JSON document
made with the file's data key (R-52). Everything else here is bookkeeping
that stays meaningful, and anonymous, after destruction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tgd.db.base import Base, str_enum, utcnow
from tgd.db.models.lines import LineAssignment
from tgd.db.models.territories import Juridiction
from tgd.domain.lifecycle import CommissioningStep, FileState


class BeneficiaryFile(Base):
    """The fiche bénéficiaire the operator sees when the terminal calls (R-20)."""

    __tablename__ = "beneficiary_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # e.g. 2026-000042, not personal
    assignment_id: Mapped[int] = mapped_column(ForeignKey("line_assignments.id"), unique=True)
    juridiction_id: Mapped[int] = mapped_column(ForeignKey("juridictions.id"), index=True)
    association_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id", ondelete="SET NULL"))
    state: Mapped[FileState] = mapped_column(str_enum(FileState), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    commissioned_at: Mapped[datetime | None]  # R-11 complete
    termination_requested_at: Mapped[datetime | None]
    # CCP II.2.4: the "date de résiliation" the termination navette names (a date, no person).
    termination_date: Mapped[date | None]
    # The later of the operator's confirmation and the termination date: quarantine
    # and destruction count from here.
    closed_at: Mapped[datetime | None]
    destruction_due_at: Mapped[datetime | None]  # closure + 4 months, territory calendar
    destroyed_at: Mapped[datetime | None]
    legal_hold: Mapped[bool] = mapped_column(default=False)  # R-16b suspends destruction
    positions_retention_days: Mapped[int | None]  # R-16b override, up to 8
    last_test_call_at: Mapped[datetime | None]

    assignment: Mapped[LineAssignment] = relationship()
    juridiction: Mapped[Juridiction] = relationship()
    versions: Mapped[list[FileVersion]] = relationship(
        back_populates="file", order_by="FileVersion.version_no"
    )


class FileVersion(Base):
    """R-12: one version of the file's personal data, encrypted, with who changed what."""

    __tablename__ = "file_versions"
    __table_args__ = (UniqueConstraint("file_id", "version_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("beneficiary_files.id"), index=True)
    version_no: Mapped[int]
    personal_enc: Mapped[bytes] = mapped_column(LargeBinary)
    changed_fields: Mapped[list[str]] = mapped_column(JSON, default=list)  # names only
    navette_id: Mapped[int | None] = mapped_column(ForeignKey("navettes.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    file: Mapped[BeneficiaryFile] = relationship(back_populates="versions")


class TemporaryInfo(Base):
    """R-13: information valid for a period, kept in the history without altering the file."""

    __tablename__ = "temporary_infos"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("beneficiary_files.id"), index=True)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    content_enc: Mapped[bytes] = mapped_column(LargeBinary)
    navette_id: Mapped[int | None] = mapped_column(ForeignKey("navettes.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommissioningRecord(Base):
    """R-11: one commissioning step done (or failed), tied to who and when."""

    __tablename__ = "commissioning_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("beneficiary_files.id"), index=True)
    step: Mapped[CommissioningStep] = mapped_column(str_enum(CommissioningStep))
    succeeded: Mapped[bool]
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))  # the test call, step 3
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class FileExport(Base):
    """R-15: the document export delivered to the parquet at closure (encrypted)."""

    __tablename__ = "file_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("beneficiary_files.id"), index=True)
    format: Mapped[str] = mapped_column(String(8))  # odt, pdf
    content_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FileGeocode(Base):
    """R-25: where an address of the file is on the map, and how well it was matched.

    One row per file and place (``residence``, ``workplace``). ``status`` is
    ``pending`` from the moment the address is written until the geocoding job
    answers (``found``, ``not_found``), ``manual`` once an operator placed the
    point, ``empty`` when there is no address. The point and the address the
    geocoder matched are personal data, encrypted with the file's key; BAN's match
    type and score are not, and tell the operator how far to trust the point.
    """

    __tablename__ = "file_geocodes"
    __table_args__ = (UniqueConstraint("file_id", "place"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("beneficiary_files.id"), index=True)
    place: Mapped[str] = mapped_column(String(16))  # residence, workplace
    status: Mapped[str] = mapped_column(String(16), index=True)
    version_no: Mapped[int]  # the file version whose address this is (or will be) the point of
    point_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # {"lat", "lon", "label"}
    match_type: Mapped[str | None] = mapped_column(String(16))  # housenumber, street, manual…
    score: Mapped[float | None]
    attempts: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
