"""The tamper-evident audit log (R-53): append-only entries chained by SHA-256."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base, utcnow


class AuditEntry(Base):
    """Who did what to which object, when and from where; never personal data in clear."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(80))  # "user:12", "system:scheduler", "carrier"
    action: Mapped[str] = mapped_column(String(64), index=True)  # "file.read", "login.failed"
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))  # IP address or process
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set by the sealer (tgd.services.audit.seal), NULL until then: business
    # transactions only insert, so they never contend on the chain head.
    chain_seq: Mapped[int | None] = mapped_column(unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
