"""What the line-health job remembers of each line (issue 15, item 5).

Positions are deleted a few days after capture (R-16b), so the last time a
line sent one is kept here by the job, before the purge, to tell a silent line
from a line that only sends positions. A time, never a place.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from tgd.db.base import Base


class LineActivity(Base):
    """The last position received from a line, as seen by the line-health job."""

    __tablename__ = "line_activity"

    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    last_position_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
