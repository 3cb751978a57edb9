"""Job: open follow-up tasks for lines without a successful test for 15 days (R-30)."""

from __future__ import annotations

from typing import Any

from tgd.jobs.runner import JobContext
from tgd.services import tests_chase


def run(context: JobContext) -> dict[str, Any]:
    """Open the chases due up to now and close those no longer needed."""
    with context.write() as session:
        done = tests_chase.open_due_chases(
            session,
            overdue_days=context.settings.retention.test_call_overdue_days,
            clock=context.clock,
        )
    return {"opened": done.opened, "closed": done.closed}
