"""Job: seal the audit entries committed since the last run (R-53), every few seconds."""

from __future__ import annotations

from typing import Any

from tgd.jobs.runner import JobContext
from tgd.services import audit


def run(context: JobContext) -> dict[str, Any]:
    """Chain every committed unsealed entry and append the head to the anchor file."""
    sealed = audit.seal(context.engine, anchor_path=context.settings.data_dir / "audit.anchor")
    return {"count": sealed}
