"""Job: follow-up tasks for silent lines and suspicious patterns (issue 15, item 5)."""

from __future__ import annotations

from typing import Any

from tgd.jobs.runner import JobContext
from tgd.services import line_health


def run(context: JobContext) -> dict[str, Any]:
    """Open the line-health tasks due up to now and close those no longer needed."""
    with context.write() as session:
        done = line_health.check_lines(
            session, settings=context.settings.line_health, since=context.since, clock=context.clock
        )
    return {
        "lines": done.lines,
        "opened": done.opened,
        "closed": done.closed,
        "positions": done.positions,
    }
