"""Job: escalate unclaimed alerts at 10 s, overflow them at 30 s (R-23, R-23b), every second.

A leader duty (E-06): only the scheduler holding the lease runs it, so with
several web processes an unclaimed alert escalates once and dials the overflow
number once.
"""

from __future__ import annotations

from typing import Any

from tgd.jobs.runner import JobContext
from tgd.services import dispatch
from tgd.services.escalation import run_escalation


def run(context: JobContext) -> dict[str, Any]:
    """Escalate and overflow everything due up to now."""
    escalated, overflowed = run_escalation(
        context.sessions,
        settings=context.settings,
        telephony=context.telephony,
        callbacks=dispatch.carrier_callbacks(context.settings.twilio.public_base_url),
        clock=context.clock,
    )
    return {"count": escalated + overflowed, "escalated": escalated, "overflowed": overflowed}
