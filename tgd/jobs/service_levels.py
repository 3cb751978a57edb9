"""Job: record service-level breaches (R-32): navette 15 min, swap 24 h, unclaimed alerts.

The clocks are read outside any write transaction, then written in batches of ``BATCH``
breaches, each its own short transaction (tgd.db.writes): after a burst of unclaimed
alerts a run has thousands to record, and one transaction for them all held the write
gate for a quarter of a second, with every alert webhook of that moment waiting on it.
"""

from __future__ import annotations

from typing import Any

from tgd.jobs.runner import JobContext
from tgd.services import service_levels

BATCH = 100  # breaches written per transaction


def run(context: JobContext) -> dict[str, Any]:
    """Record every clock that ran out since the last run, and complete finished breaches."""
    with context.sessions() as reader:
        plan = service_levels.plan_service_levels(
            reader, settings=context.settings, since=context.since, now=context.clock.now()
        )
    done = service_levels.LevelsRun(recorded=0, finished=0)
    for batch in plan.batches(BATCH):
        with context.write() as session:
            done += service_levels.apply(session, batch)
    return {"recorded": done.recorded, "finished": done.finished}
