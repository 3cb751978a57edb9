"""Fiches navettes and the intake of documents that arrive by e-mail or fax (R-10..R-15)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base, str_enum, utcnow
from tgd.domain.lifecycle import NavetteKind, NavetteSource, NavetteState


class Navette(Base):
    """A form between a parquet and the centre; its content is encrypted with its data key."""

    __tablename__ = "navettes"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[NavetteKind] = mapped_column(str_enum(NavetteKind))
    source: Mapped[NavetteSource] = mapped_column(str_enum(NavetteSource))
    state: Mapped[NavetteState] = mapped_column(str_enum(NavetteState), index=True)
    juridiction_id: Mapped[int] = mapped_column(ForeignKey("juridictions.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiary_files.id"), index=True)
    reference: Mapped[str | None] = mapped_column(String(24), index=True)  # the line's, anonymous
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id", ondelete="SET NULL"))
    payload_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[datetime | None]  # the clock starts here
    deadline_at: Mapped[datetime | None]  # received_at + 15 minutes for an attribution
    processed_at: Mapped[datetime | None]
    is_breach: Mapped[bool] = mapped_column(default=False)  # service level
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    processed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    intake_id: Mapped[int | None] = mapped_column(ForeignKey("intake_documents.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntakeDocument(Base):
    """A navette received as a PDF or image (e-mail, fax), waiting to be keyed in."""

    __tablename__ = "intake_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[NavetteSource] = mapped_column(str_enum(NavetteSource))
    received_at: Mapped[datetime]
    message_id: Mapped[str | None] = mapped_column(String(255), unique=True)  # idempotent intake
    content_type: Mapped[str] = mapped_column(String(80))
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id", ondelete="SET NULL"))
    content_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    handled_at: Mapped[datetime | None]
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ParquetMessage(Base):
    """R-14: information sent by the centre to the parquet référent (content encrypted)."""

    __tablename__ = "parquet_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("beneficiary_files.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    content_enc: Mapped[bytes] = mapped_column(LargeBinary)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]  # e-mail notice sent (no personal data in it)
