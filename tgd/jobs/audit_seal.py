"""Job: seal the audit entries committed since the last run (R-53), every few seconds.

The sealer is the only one to chain entries (requests and commands only record them).
Before it extends the chain it checks that the chain still reaches the last anchored
head; when it does not (someone rewrote the log), nothing is sealed, supervisors are
alarmed and the run fails, again at every run until an auditor has looked.
"""

from __future__ import annotations

from typing import Any

from tgd.jobs.runner import JobContext
from tgd.services import audit
from tgd.services.alerts import raise_supervisor_alarm

# Entries hashed and chained per transaction. A batch's hashing is Python from end to end,
# and a call arriving meanwhile shares the GIL with it until it ends: under a burst the
# sealer chains 750 entries every 5 s, and batches of 200 (about 8 ms of hashing each) put
# the slowest calls of the minute at its runs. Batches of 50 cost 10 % more CPU in all.
BATCH = 50


def run(context: JobContext) -> dict[str, Any]:
    """Chain every committed unsealed entry and append the head to the anchor file."""
    try:
        sealed = audit.seal(
            context.engine,
            anchor_path=context.settings.audit_anchor_path,
            anchor_copy=context.anchor_copy,
            batch_size=BATCH,
        )
    except audit.AuditChainBroken as broken:
        with context.write() as session:
            raise_supervisor_alarm(
                session,
                "audit_chain_broken",
                {"problem": str(broken)},
                clock=context.clock,
                actor="system:audit",
            )
        raise
    return {"count": sealed}
