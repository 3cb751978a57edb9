"""Job: record service-level breaches (R-32): navette 15 min, swap 24 h, unclaimed alerts."""

from __future__ import annotations

from typing import Any

from tgd.jobs.runner import JobContext
from tgd.services import service_levels


def run(context: JobContext) -> dict[str, Any]:
    """Record every clock that ran out since the last run, and complete finished breaches."""
    with context.write() as session:
        done = service_levels.check_service_levels(
            session, settings=context.settings, since=context.since, clock=context.clock
        )
    return {"recorded": done.recorded, "finished": done.finished}
