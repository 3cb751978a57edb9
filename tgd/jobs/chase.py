"""Job: follow-up tasks for lines without a successful test for 15 days, every 15 days (R-30)."""

from __future__ import annotations

from typing import Any

from tgd.jobs.runner import JobContext
from tgd.services import tests_chase


def run(context: JobContext) -> dict[str, Any]:
    """Open the chases due up to now, close those no longer needed, escalate untreated steps."""
    retention = context.settings.retention
    with context.write() as session:
        done = tests_chase.open_due_chases(
            session, overdue_days=retention.test_call_overdue_days, clock=context.clock
        )
        escalated = tests_chase.escalate_untreated(
            session, after_hours=retention.test_call_chase_escalation_hours, clock=context.clock
        )
    return {"opened": done.opened, "closed": done.closed, "escalated": escalated}
