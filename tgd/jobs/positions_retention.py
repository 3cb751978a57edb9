"""Job: delete positions kept longer than their retention period (R-16b)."""

from __future__ import annotations

from typing import Any

from tgd.jobs.runner import JobContext
from tgd.services import retention


def run(context: JobContext) -> dict[str, Any]:
    """Delete positions older than 3 days, or the file's extension (at most 8 days)."""
    with context.write() as session:
        count = retention.purge_positions(
            session, settings=context.settings.retention, clock=context.clock
        )
    return {"count": count}
