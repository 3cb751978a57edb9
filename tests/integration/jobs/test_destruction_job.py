"""The destruction job (R-16, R-31, R-52): four calendar months, local calendar, for real."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests import builders
from tests.integration.jobs.conftest import RunJob
from tgd.adapters.clock import FrozenClock
from tgd.adapters.crypto import CryptoError, KeyFileCipher, WrappedKey, field_aad
from tgd.container import Platform
from tgd.db.models import (
    Alert,
    AuditEntry,
    BeneficiaryFile,
    DataKey,
    DestructionRecord,
    FileVersion,
    Position,
)
from tgd.db.session import make_engine, make_session_factory
from tgd.db.writes import write_transaction
from tgd.domain.alerts import AlertNature, AlertState, PositionSource
from tgd.domain.lifecycle import FileState
from tgd.jobs.status import job_statuses
from tgd.services import files, retention

# Closed on 23 November 2026 at 10:30 Paris (CET): due 23 March 2027 10:30 CET = 09:30 UTC.
CLOSED = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
DUE = datetime(2027, 3, 23, 9, 30, tzinfo=UTC)


def close_file(platform: Platform, closed_at: datetime) -> int:
    """Build Paris' file of M 75 75056 04 1 (termination requested), closed at ``closed_at``."""
    with write_transaction(platform.sessions) as session:
        paris = builders.juridiction(session, clock=platform.clock)
        file = builders.closed_file(
            session,
            juridiction=paris,
            closed_at=closed_at,
            cipher=platform.cipher,
            clock=platform.clock,
        )
        return file.id


def _state(platform: Platform, file_id: int) -> FileState:
    with platform.sessions() as session:
        file = session.get(BeneficiaryFile, file_id)
        assert file is not None
        return file.state


@pytest.mark.parametrize(
    ("at", "destroyed"),
    [
        (DUE - timedelta(days=1), False),
        (DUE - timedelta(minutes=1), False),
        (DUE, True),
        (DUE + timedelta(days=1), True),
    ],
    ids=["day-before", "minute-before", "exactly-four-months", "day-after"],
)
def test_destroyed_from_four_calendar_months_after_closure(
    platform: Platform, clock: FrozenClock, run: RunJob, at: datetime, destroyed: bool
) -> None:
    file_id = close_file(platform, CLOSED)
    clock.set(at)
    run("destruction")
    assert (_state(platform, file_id) is FileState.DETRUIT) is destroyed


def test_four_months_across_the_paris_dst_change_keep_the_local_time(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    # Closed 10 December 2026 13:00 CET; due 10 April 2027 13:00 CEST, i.e. 11:00 UTC (not 12:00).
    file_id = close_file(platform, datetime(2026, 12, 10, 12, 0, tzinfo=UTC))
    clock.set(datetime(2027, 4, 10, 10, 59, tzinfo=UTC))
    run("destruction")
    assert _state(platform, file_id) is FileState.CLOTURE
    clock.set(datetime(2027, 4, 10, 11, 0, tzinfo=UTC))
    run("destruction")
    assert _state(platform, file_id) is FileState.DETRUIT


def test_legal_hold_suspends_destruction_until_lifted(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    file_id = close_file(platform, CLOSED)
    with write_transaction(platform.sessions) as session:
        file = session.get(BeneficiaryFile, file_id)
        assert file is not None
        retention.set_legal_hold(session, file, on=True, actor="user:1", clock=clock)
    clock.set(DUE + timedelta(days=30))
    job = run("destruction")
    assert job is not None and job.details["held"] == 1 and job.details["count"] == 0
    assert _state(platform, file_id) is FileState.CLOTURE
    with write_transaction(platform.sessions) as session:
        file = session.get(BeneficiaryFile, file_id)
        assert file is not None
        retention.set_legal_hold(session, file, on=False, actor="user:1", clock=clock)
    run("destruction")
    assert _state(platform, file_id) is FileState.DETRUIT


def test_running_destruction_twice_changes_nothing_the_second_time(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    close_file(platform, CLOSED)
    clock.set(DUE)
    first = run("destruction")
    assert first is not None and first.details["count"] == 1 and first.details["rotated_at"]
    assert isinstance(platform.cipher, KeyFileCipher)
    master = platform.cipher.ring.current_id

    def snapshot() -> tuple[int, int, int, int]:
        with platform.sessions() as s:
            return (
                s.scalar(select(func.count(DestructionRecord.id))) or 0,
                s.scalar(select(func.count(DataKey.id))) or 0,
                s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action != "job.run"))
                or 0,
                s.scalar(select(func.count(Alert.id))) or 0,
            )

    before = snapshot()
    clock.advance(days=1)
    second = run("destruction")
    assert second is not None and second.details["count"] == 0
    assert second.details["rotated_at"] is None
    assert platform.cipher.ring.current_id == master  # no new rotation
    assert snapshot() == before


def test_destroyed_data_cannot_be_read_from_a_copy_taken_before(
    platform: Platform, clock: FrozenClock, run: RunJob, tmp_path: Path
) -> None:
    file_id = close_file(platform, CLOSED)
    with platform.sessions() as s:
        version = s.scalars(select(FileVersion).where(FileVersion.file_id == file_id)).first()
        assert version is not None
        key = s.get(DataKey, s.get(BeneficiaryFile, file_id).data_key_id)  # type: ignore[union-attr]
        assert key is not None
        # The rows as a dump or a replica holds them: wrapped key and ciphertext.
        copied_key = WrappedKey(master_key_id=key.master_key_id, wrapped=key.wrapped)
        copied_blob, aad = (
            version.personal_enc,
            field_aad("file_versions", "personal_enc", version.id),
        )
        assert platform.cipher.decrypt_json(copied_key, copied_blob, aad=aad)  # readable before
    copy = None
    if platform.engine.dialect.name == "sqlite":
        copy = tmp_path / "backup-before.db"
        source, target = sqlite3.connect(str(platform.engine.url.database)), sqlite3.connect(copy)
        with target:
            source.backup(target)
        source.close()
        target.close()
    clock.set(DUE)
    run("destruction")
    with pytest.raises(CryptoError):
        platform.cipher.decrypt_json(copied_key, copied_blob, aad=aad)
    if copy is not None:
        engine = make_engine(f"sqlite:///{copy}")
        try:
            with make_session_factory(engine)() as old:
                file = old.get(BeneficiaryFile, file_id)
                assert file is not None and file.state is FileState.CLOTURE
                assert old.get(DataKey, file.data_key_id) is not None  # still in the backup…
                with pytest.raises(CryptoError):  # …but its master key is gone for good
                    files.read_personal(old, file, cipher=platform.cipher)
        finally:
            engine.dispose()


def test_destruction_keeps_anonymous_figures_and_writes_the_register(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    file_id = close_file(platform, CLOSED)
    with write_transaction(platform.sessions) as s:
        s.add(
            Alert(
                call_sid="CAjobs1",
                file_id=file_id,
                reference="M 75 75056 04 1",
                conference_name="tgd-jobs-1",
                state=AlertState.CLOSED,
                nature=AlertNature.DANGER_REEL,
                ringing_at=CLOSED - timedelta(days=40),
            )
        )
    clock.set(DUE)
    run("destruction")
    with platform.sessions() as s:
        alert = s.scalars(select(Alert).where(Alert.call_sid == "CAjobs1")).one()
        assert alert.nature is AlertNature.DANGER_REEL and alert.reference == "M 75 75056 04 1"
        record = s.scalars(select(DestructionRecord)).one()
        assert (record.category, record.reference, record.rule) == (
            "fiche",
            "M 75 75056 04 1",
            "R-16",
        )
        assert record.closed_at == CLOSED and record.destroyed_at == DUE
        audit_entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "file.destroy")).one()
        assert audit_entry.details == {"rule": "R-16", "keys": 1}
        rows = retention.register_rows(retention.destruction_register(s))
    csv_bytes = retention.register_csv(list(retention.REGISTER_COLUMNS), rows)
    assert "M 75 75056 04 1" in csv_bytes.decode("utf-8-sig")
    ods = retention.register_ods(list(retention.REGISTER_COLUMNS), rows, title="Registre")
    assert ods[:2] == b"PK"


def test_positions_are_kept_three_days_or_the_parquets_extension(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    now = clock.now()
    with write_transaction(platform.sessions) as s:
        paris = builders.juridiction(s, clock=clock)
        plain, extended, held = (
            builders.assigned_file(
                s, juridiction=paris, order_no=n, cipher=platform.cipher, clock=clock
            )
            for n in (1, 2, 3)
        )
        retention.set_positions_retention(
            s, extended, 6, settings=platform.settings.retention, actor="user:1", clock=clock
        )
        held.legal_hold = True
        for file in (plain, extended, held):
            for age in (2, 4, 7):
                s.add(
                    Position(
                        file_id=file.id,
                        coords_enc=b"opaque",
                        source=PositionSource.GNSS,
                        channel="https",
                        captured_at=now - timedelta(days=age),
                        received_at=now - timedelta(days=age),
                    )
                )
        ids = (plain.id, extended.id, held.id)
    job = run("positions_retention")
    assert job is not None and job.details["count"] == 3  # 4 and 7 days (plain), 7 (extended)
    with platform.sessions() as s:
        kept = {
            fid: s.scalar(select(func.count(Position.id)).where(Position.file_id == fid))
            for fid in ids
        }
        assert kept == {ids[0]: 1, ids[1]: 2, ids[2]: 3}
        record = s.scalars(
            select(DestructionRecord).where(DestructionRecord.category == "positions")
        ).one()
        assert (record.count, record.reference, record.rule) == (3, None, "R-16b")
    second = run("positions_retention")
    assert second is not None and second.details["count"] == 0


class _RotationFailsOnce(KeyFileCipher):
    """The production cipher, whose first re-wrap fails (a lock, a full disk…)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.failures = 1

    def rewrap(self, key: WrappedKey) -> WrappedKey:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("simulated failure in the middle of a rotation")
        return super().rewrap(key)


def test_a_destruction_whose_rotation_failed_is_not_done_until_the_rotation_completes(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    # Issue 12, item 11: destruction is all or nothing.
    assert isinstance(platform.cipher, KeyFileCipher)
    path = platform.cipher.path
    old_master = platform.cipher.ring.current_id
    platform.cipher = _RotationFailsOnce(path)
    close_file(platform, CLOSED)
    with write_transaction(platform.sessions) as s:  # a live file, whose key is re-wrapped
        paris = builders.juridiction(s, clock=clock)
        builders.assigned_file(s, juridiction=paris, cipher=platform.cipher, clock=clock)
    clock.set(DUE)
    with pytest.raises(RuntimeError, match="simulated"):
        run("destruction")
    with platform.sessions() as s:
        destruction = next(
            j for j in job_statuses(s, platform.settings, now=DUE) if j.name == "destruction"
        )
    assert not destruction.healthy
    assert destruction.pending == "rotation" and destruction.failures_in_a_row == 1
    assert old_master in platform.cipher.ring.ids  # a copy taken before is still readable…
    retry = run("destruction")  # …until the next run completes the rotation
    assert retry is not None and retry.details["count"] == 0 and retry.details["rotated_at"]
    assert old_master not in KeyFileCipher(path).ring.ids
    with platform.sessions() as s:
        assert (
            s.scalar(select(func.count(DataKey.id)).where(DataKey.master_key_id == old_master)) == 0
        )
        destruction = next(
            j for j in job_statuses(s, platform.settings, now=DUE) if j.name == "destruction"
        )
    assert destruction.healthy
