"""The audit sealer job (R-53): committed entries chained in short batches."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.integration.jobs.conftest import RunJob
from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models.audit import AuditEntry
from tgd.db.writes import write_transaction
from tgd.jobs import audit_seal
from tgd.services import audit


def test_the_sealer_chains_every_entry_in_batches_of_fifty(
    platform: Platform, clock: FrozenClock, run: RunJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch's hashing shares the GIL with the calls arriving meanwhile until it ends:
    # batches of 200 put the slowest calls of a burst's minute at the sealer's runs.
    with write_transaction(platform.sessions) as s:
        for n in range(120):
            audit.record(s, actor="system:test", action="test.entry", details={"n": n}, clock=clock)
    written: list[int] = []
    write_plan = audit._write_plan

    def counting(engine: Any, plan: Any) -> bool:
        written.append(plan.count)
        return write_plan(engine, plan)

    monkeypatch.setattr(audit, "_write_plan", counting)
    run("audit_seal")
    assert sum(written) >= 120 and max(written) == audit_seal.BATCH == 50
    assert all(count == 50 for count in written[:-1])
    with platform.sessions() as s:
        unsealed = s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.chain_seq.is_(None))
        )
    assert unsealed == 0
