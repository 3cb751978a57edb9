"""Call restrictions of lines (Annexe 2 I.1): each version of a line's allow-list, with history.

The numbers a line may call or text are third parties' personal data: the
list is one JSON document encrypted under the line's data key (R-52), bound
to its row. A version in force has no ``superseded_at``; editing or lifting the
restriction supersedes it and adds a new version, so the history says who
changed what, when, and at which request of the parquet. A restriction
belongs to the assignment record it was set for: after a termination and a
new assignment (Y+1) the new person starts unrestricted.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base, utcnow


class LineRestriction(Base):
    """One version of a line's call restriction (None of the lists: restriction lifted)."""

    __tablename__ = "line_restrictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("line_assignments.id"))
    is_restricted: Mapped[bool]  # False: this version lifts the restriction
    numbers_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # AllowList JSON, line key
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id", ondelete="SET NULL"))
    voice_count: Mapped[int] = mapped_column(default=0)  # counts only: listings, audit, reports
    sms_count: Mapped[int] = mapped_column(default=0)
    request_ref: Mapped[str] = mapped_column(String(120))  # the parquet's request, no names
    requested_on: Mapped[date]
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(index=True)  # None: in force
