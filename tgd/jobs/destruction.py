"""Job: destroy every closed file due up to now, then retire the master key (R-16, R-31, R-52)."""

from __future__ import annotations

from typing import Any

from tgd.jobs.runner import JobContext
from tgd.services import retention


def run(context: JobContext) -> dict[str, Any]:
    """Destroy the files due (legal holds kept) and rotate the master key once if any went."""
    done = retention.destroy_due_files(
        context.sessions,
        cipher=context.cipher,
        months=context.settings.retention.closed_file_months,
        clock=context.clock,
    )
    return {
        "count": len(done.destroyed),
        "held": done.held,
        "failed": done.failed,
        "rotated_at": done.rotated_at.isoformat() if done.rotated_at else None,
        "master_key": done.master_key,
    }
