"""Tests of the tamper-evident audit log: record, seal, verify, anchor, export (R-53, R-55)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.orm import Session

import tgd.db.models  # noqa: F401 - registers every table on Base.metadata
import tgd.services.audit as audit_module
from tgd.adapters.clock import FrozenClock
from tgd.db.base import Base
from tgd.db.models.audit import AuditEntry
from tgd.db.session import make_engine
from tgd.db.writes import holds_write
from tgd.services.audit import (
    GENESIS_HASH,
    SOURCE_KEY,
    AuditChainBroken,
    AuditReport,
    compute_entry_hash,
    entry_values,
    export,
    insert_now,
    record,
    seal,
    verify,
)

T0 = datetime(2026, 11, 23, 14, 48, 12, 345678, tzinfo=UTC)
TABLE = AuditEntry.__table__
PG_URL = os.environ.get("TGD_TEST_DATABASE_URL")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not PG_URL, reason="TGD_TEST_DATABASE_URL is not set"),
            ],
        ),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh database with every table: a SQLite file, or a throwaway PostgreSQL schema."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'tgd.sqlite3'}")
        Base.metadata.create_all(eng)
        yield eng
        eng.dispose()
        return
    assert PG_URL is not None
    schema = f"audit_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        # Only the audit table: the full metadata does not create on PostgreSQL yet (two
        # CHECK constraints named ck_line_status_changes_linestatus in line_status_changes).
        Base.metadata.create_all(eng, tables=[AuditEntry.__table__])
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite file database with every table."""
    eng = make_engine(f"sqlite:///{tmp_path / 'tgd.sqlite3'}")
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def _record_some(engine: Engine, clock: FrozenClock, count: int = 5) -> list[int]:
    ids = []
    with Session(engine) as session:
        for i in range(count):
            entry = record(
                session,
                actor=f"user:{i + 1}",
                action="file.read",
                object_type="beneficiary_file",
                object_id=100 + i,
                source="192.0.2.10",
                details={"territory_id": 75, "fields": ["situation", "zones"], "n": i},
                clock=clock,
            )
            session.flush()
            ids.append(entry.id)
            clock.advance(seconds=1)
        session.commit()
    return ids


def _sealed_chain(engine: Engine, clock: FrozenClock, count: int = 5) -> list[int]:
    ids = _record_some(engine, clock, count)
    assert seal(engine) == count
    return ids


def _check(engine: Engine, clock: FrozenClock, **kwargs: Any) -> AuditReport:
    with Session(engine) as session:
        return verify(session, clock=clock, **kwargs)


def _tamper(engine: Engine, entry_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(TABLE).where(TABLE.c.id == entry_id).values(**values))


def _row(engine: Engine, entry_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(TABLE).where(TABLE.c.id == entry_id)).one()


def _recompute(engine: Engine, first: int, last: int | None = None) -> None:
    """Rewrite the hashes of chain_seq ``first``..``last`` as an attacker knowing the algorithm."""
    with engine.begin() as conn:
        prev = conn.execute(
            select(TABLE.c.entry_hash).where(TABLE.c.chain_seq == first - 1)
        ).scalar_one_or_none()
        prev = prev or GENESIS_HASH
        chosen = TABLE.c.chain_seq >= first
        if last is not None:
            chosen &= TABLE.c.chain_seq <= last
        for row in conn.execute(select(TABLE).where(chosen).order_by(TABLE.c.chain_seq)).all():
            digest = compute_entry_hash(
                prev,
                chain_seq=row.chain_seq,
                entry_id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                object_type=row.object_type,
                object_id=row.object_id,
                source=row.source,
                details=row.details,
            )
            conn.execute(
                update(TABLE).where(TABLE.c.id == row.id).values(prev_hash=prev, entry_hash=digest)
            )
            prev = digest


# -- record, seal, verify ---------------------------------------------------------------


def test_sealed_chain_verifies(engine: Engine, clock: FrozenClock) -> None:
    _sealed_chain(engine, clock)
    report = _check(engine, clock)
    assert report == AuditReport(ok=True, checked=5, unsealed=0, problems=[])


def test_seal_links_entries_from_genesis_in_id_order(engine: Engine, clock: FrozenClock) -> None:
    ids = _sealed_chain(engine, clock, 3)
    rows = [_row(engine, i) for i in ids]
    assert [r.chain_seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS_HASH
    assert rows[1].prev_hash == rows[0].entry_hash
    assert rows[2].prev_hash == rows[1].entry_hash
    assert len({r.entry_hash for r in rows}) == 3


def test_recorded_entry_is_unsealed_until_the_sealer_runs(
    engine: Engine, clock: FrozenClock
) -> None:
    (entry_id,) = _record_some(engine, clock, 1)
    row = _row(engine, entry_id)
    assert (row.chain_seq, row.prev_hash, row.entry_hash) == (None, None, None)
    assert row.at == T0
    assert row.object_id == "100"
    report = _check(engine, clock)
    assert (report.ok, report.checked, report.unsealed) == (True, 0, 1)


def test_later_seals_extend_the_same_chain(engine: Engine, clock: FrozenClock) -> None:
    _sealed_chain(engine, clock, 2)
    assert seal(engine) == 0
    _sealed_chain(engine, clock, 3)
    report = _check(engine, clock)
    assert (report.ok, report.checked) == (True, 5)


def test_seal_works_in_batches(sqlite_engine: Engine, clock: FrozenClock) -> None:
    _record_some(sqlite_engine, clock, 7)
    assert seal(sqlite_engine, batch_size=3) == 7
    report = _check(sqlite_engine, clock)
    assert (report.ok, report.checked) == (True, 7)


def test_each_batch_is_hashed_after_the_calls_in_progress(
    sqlite_engine: Engine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record_some(sqlite_engine, clock, 7)
    stepped: list[int] = []
    monkeypatch.setattr(audit_module, "let_calls_pass", lambda: stepped.append(1) or 0.0)
    assert seal(sqlite_engine, batch_size=3) == 7
    assert len(stepped) == 3  # 3 + 3 + 1 entries


def test_record_does_not_commit(sqlite_engine: Engine, clock: FrozenClock) -> None:
    # STYLE 2: the entry point commits; a rolled back change leaves no entry, even flushed.
    with Session(sqlite_engine) as session:
        entry = record(session, actor="user:3", action="file.update", clock=clock)
        session.flush()
        assert entry.id is not None
        session.rollback()
    with Session(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_an_entry_inserted_at_once_is_the_entry_record_adds(
    engine: Engine, clock: FrozenClock
) -> None:
    # The gateway's hot path inserts its entries without the ORM: same row, same chain.
    fields: dict[str, Any] = {
        "actor": "carrier",
        "action": "alert.opened",
        "object_type": "alert",
        "object_id": 7,
        "details": {"kind": "alert", "identified": True},
    }
    with Session(engine) as session:
        session.info[SOURCE_KEY] = "192.0.2.10"
        added = record(session, clock=clock, **fields)
        insert_now(session, entry_values(session, clock=clock, **fields))
        session.commit()
        assert added.id is not None
    with engine.connect() as conn:
        rows = conn.execute(select(TABLE).order_by(TABLE.c.id)).all()
    columns = ("at", "actor", "action", "object_type", "object_id", "source", "details")
    assert [tuple(getattr(row, c) for c in columns) for row in rows] == [
        (T0, "carrier", "alert.opened", "alert", "7", "192.0.2.10", fields["details"])
    ] * 2
    assert seal(engine) == 2
    assert _check(engine, clock).ok


def test_an_entry_inserted_at_once_refuses_personal_data(
    sqlite_engine: Engine, clock: FrozenClock
) -> None:
    # Its values are checked as ``record``'s are, before any statement (R-53).
    with Session(sqlite_engine) as session, pytest.raises(ValueError, match="object_id"):
        entry_values(
            session, actor="carrier", action="alert.opened", object_id="0612345678", clock=clock
        )


# -- tampering (R-53) --------------------------------------------------------------------


def test_altered_actor_is_detected(engine: Engine, clock: FrozenClock) -> None:
    ids = _sealed_chain(engine, clock)
    _tamper(engine, ids[2], actor="user:999")
    report = _check(engine, clock)
    assert not report.ok
    assert report.problems == [
        f"entry chain_seq=3 (id {ids[2]}): hash mismatch, content altered or entry_hash forged"
    ]


def test_altered_timestamp_is_detected(engine: Engine, clock: FrozenClock) -> None:
    ids = _sealed_chain(engine, clock)
    _tamper(engine, ids[1], at=T0 + timedelta(microseconds=1))
    report = _check(engine, clock)
    assert not report.ok
    assert report.problems == [
        f"entry chain_seq=2 (id {ids[1]}): hash mismatch, content altered or entry_hash forged"
    ]


def test_altered_details_are_detected(engine: Engine, clock: FrozenClock) -> None:
    ids = _sealed_chain(engine, clock)
    _tamper(engine, ids[0], details={"territory_id": 13, "fields": ["situation", "zones"], "n": 0})
    report = _check(engine, clock)
    assert not report.ok
    assert report.problems == [
        f"entry chain_seq=1 (id {ids[0]}): hash mismatch, content altered or entry_hash forged"
    ]


def test_altered_object_id_is_detected(engine: Engine, clock: FrozenClock) -> None:
    ids = _sealed_chain(engine, clock)
    _tamper(engine, ids[4], object_id="666")
    report = _check(engine, clock)
    assert report.problems == [
        f"entry chain_seq=5 (id {ids[4]}): hash mismatch, content altered or entry_hash forged"
    ]


def test_removed_middle_entry_is_detected(engine: Engine, clock: FrozenClock) -> None:
    ids = _sealed_chain(engine, clock)
    with engine.begin() as conn:
        conn.execute(delete(TABLE).where(TABLE.c.id == ids[2]))
    report = _check(engine, clock)
    assert not report.ok
    assert report.checked == 4
    assert report.problems == [
        f"entry chain_seq=4 (id {ids[3]}): chain_seq=3 missing before it, entries removed"
    ]


def test_removed_and_renumbered_entry_is_detected(engine: Engine, clock: FrozenClock) -> None:
    ids = _sealed_chain(engine, clock)
    with engine.begin() as conn:
        conn.execute(delete(TABLE).where(TABLE.c.id == ids[2]))
    _tamper(engine, ids[3], chain_seq=3)
    _tamper(engine, ids[4], chain_seq=4)
    report = _check(engine, clock)
    assert not report.ok
    assert any("prev_hash does not match" in p for p in report.problems)


def test_swapped_chain_seq_is_detected(engine: Engine, clock: FrozenClock) -> None:
    ids = _sealed_chain(engine, clock)
    # Three steps: chain_seq is unique.
    _tamper(engine, ids[1], chain_seq=-1)
    _tamper(engine, ids[2], chain_seq=2)
    _tamper(engine, ids[1], chain_seq=3)
    report = _check(engine, clock)
    assert not report.ok
    assert (
        f"entry chain_seq=2 (id {ids[2]}): hash mismatch, content altered or entry_hash forged"
        in (report.problems)
    )
    assert (
        f"entry chain_seq=3 (id {ids[1]}): hash mismatch, content altered or entry_hash forged"
        in (report.problems)
    )


def test_swapped_ids_are_detected(engine: Engine, clock: FrozenClock) -> None:
    ids = _sealed_chain(engine, clock)
    _tamper(engine, ids[0], id=-1)
    _tamper(engine, ids[1], id=ids[0])
    _tamper(engine, -1, id=ids[1])
    report = _check(engine, clock)
    assert not report.ok
    assert len([p for p in report.problems if "hash mismatch" in p]) == 2


def test_forged_entry_hash_is_detected(engine: Engine, clock: FrozenClock) -> None:
    ids = _sealed_chain(engine, clock)
    _tamper(engine, ids[1], actor="user:999")
    _recompute(engine, 2, 2)  # entry 2 looks right on its own...
    report = _check(engine, clock)
    assert report.problems == [  # ...but entry 3 still points at its original hash
        f"entry chain_seq=3 (id {ids[2]}): prev_hash does not match the previous entry's hash, "
        "entries removed, inserted or reordered"
    ]


def test_forged_hash_alone_breaks_the_link_to_the_next_entry(
    engine: Engine, clock: FrozenClock
) -> None:
    ids = _sealed_chain(engine, clock)
    _tamper(engine, ids[1], entry_hash="b" * 64)
    report = _check(engine, clock)
    assert report.problems == [
        f"entry chain_seq=2 (id {ids[1]}): hash mismatch, content altered or entry_hash forged",
        f"entry chain_seq=3 (id {ids[2]}): prev_hash does not match the previous entry's hash, "
        "entries removed, inserted or reordered",
    ]


def test_recomputed_chain_passes_without_anchor_but_fails_with_it(
    engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    anchor = tmp_path / "anchor" / "audit.anchor"
    anchor.parent.mkdir()
    ids = _record_some(engine, clock)
    assert seal(engine, anchor_path=anchor) == 5
    _tamper(engine, ids[1], actor="user:999")
    _recompute(engine, 2)
    # The limit of a bare hash chain: a full recomputation looks valid.
    assert _check(engine, clock).ok
    report = _check(engine, clock, anchor_path=anchor)
    assert not report.ok
    assert report.problems == [
        "anchor chain_seq=5: entry_hash differs from the anchored hash, chain rewritten"
    ]


def test_truncated_tail_is_detected_with_anchor(
    engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    anchor = tmp_path / "audit.anchor"
    ids = _record_some(engine, clock)
    seal(engine, anchor_path=anchor)
    with engine.begin() as conn:
        conn.execute(delete(TABLE).where(TABLE.c.id.in_(ids[3:])))
    assert _check(engine, clock).ok  # a shorter chain is still a valid chain
    report = _check(engine, clock, anchor_path=anchor)
    assert not report.ok
    assert report.problems == [
        "anchor chain_seq=5: entry missing, chain ends at chain_seq=3, log truncated"
    ]


def test_anchor_file_gets_the_head_after_each_seal(
    sqlite_engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    anchor = tmp_path / "audit.anchor"
    ids = _record_some(sqlite_engine, clock, 2)
    seal(sqlite_engine, anchor_path=anchor)
    assert seal(sqlite_engine, anchor_path=anchor) == 0  # nothing new: no line
    ids += _record_some(sqlite_engine, clock, 1)
    seal(sqlite_engine, anchor_path=anchor)
    lines = anchor.read_text().splitlines()
    heads = [(_row(sqlite_engine, i).chain_seq, _row(sqlite_engine, i)) for i in (ids[1], ids[2])]
    assert lines == [
        f"{seq} {row.entry_hash} {row.at.isoformat(timespec='microseconds')}" for seq, row in heads
    ]
    assert _check(sqlite_engine, clock, anchor_path=anchor).ok


def test_lost_anchor_file_is_reported(
    sqlite_engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    _sealed_chain(sqlite_engine, clock)
    report = _check(sqlite_engine, clock, anchor_path=tmp_path / "gone.anchor")
    assert not report.ok
    assert "not found" in report.problems[0]


def test_malformed_anchor_line_is_reported(
    sqlite_engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    anchor = tmp_path / "audit.anchor"
    _record_some(sqlite_engine, clock)
    seal(sqlite_engine, anchor_path=anchor)
    with anchor.open("a") as f:
        f.write("garbage\n")
    report = _check(sqlite_engine, clock, anchor_path=anchor)
    assert report.problems == [f"anchor file {anchor} line 2: malformed"]


def test_sealer_refuses_to_extend_a_rewritten_chain(
    engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    # Issue 12, item 10: an edit, the chain recomputed after it, then the next sealing.
    anchor = tmp_path / "audit.anchor"
    ids = _record_some(engine, clock)
    seal(engine, anchor_path=anchor)
    _tamper(engine, ids[1], actor="user:999")
    _recompute(engine, 2)
    waiting = _record_some(engine, clock, 2)
    with pytest.raises(AuditChainBroken, match="chain_seq=5"):
        seal(engine, anchor_path=anchor)
    assert anchor.read_text().count("\n") == 1  # the anchor did not move onto the forgery
    assert [_row(engine, i).chain_seq for i in waiting] == [None, None]  # nothing extended
    assert not _check(engine, clock, anchor_path=anchor).ok


def test_sealer_checks_entries_sealed_after_the_last_anchor(
    engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    anchor = tmp_path / "audit.anchor"
    ids = _record_some(engine, clock, 3)
    seal(engine, anchor_path=anchor)
    ids += _record_some(engine, clock, 2)
    seal(engine)  # sealed without anchoring (a crash before the anchor line)
    _tamper(engine, ids[4], actor="user:999")
    _record_some(engine, clock, 1)
    with pytest.raises(AuditChainBroken, match="chain_seq=5 does not follow"):
        seal(engine, anchor_path=anchor)


def test_every_anchored_head_is_verified_not_only_the_last(
    engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    anchor = tmp_path / "audit.anchor"
    ids = _record_some(engine, clock, 3)
    seal(engine, anchor_path=anchor)  # anchors chain_seq=3
    ids += _record_some(engine, clock, 2)
    seal(engine, anchor_path=anchor)  # anchors chain_seq=5
    _tamper(engine, ids[1], actor="user:999")
    _recompute(engine, 2)
    # The forger can append (the file is append-only) a line anchoring the forged head...
    forged = _row(engine, ids[4]).entry_hash
    with anchor.open("a") as f:
        f.write(f"5 {forged} {T0.isoformat(timespec='microseconds')}\n")
    report = _check(engine, clock, anchor_path=anchor)
    # ...but the earlier head and the first line anchoring 5 still give the rewrite away.
    assert "anchor chain_seq=3: entry_hash differs from the anchored hash, chain rewritten" in (
        report.problems
    )
    assert f"anchor file {anchor} line 3: chain_seq=5 anchored twice" in report.problems


def test_anchor_lines_are_copied_off_the_host(
    sqlite_engine: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    shipped: list[str] = []
    _record_some(sqlite_engine, clock, 2)
    seal(sqlite_engine, anchor_path=tmp_path / "audit.anchor", anchor_copy=shipped.append)
    assert shipped == (tmp_path / "audit.anchor").read_text().splitlines()


# -- sealer --------------------------------------------------------------------------------


def test_concurrent_seals_build_one_linear_chain(engine: Engine, clock: FrozenClock) -> None:
    counts: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def sealer(barrier: threading.Barrier) -> None:
        try:
            barrier.wait()
            sealed = seal(engine, batch_size=7)
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)
            return
        with lock:
            counts.append(sealed)

    for _round in range(5):
        _record_some(engine, clock, 20)
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=sealer, args=(barrier,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert sum(counts) == 100
    with engine.connect() as conn:
        seqs = conn.execute(select(TABLE.c.chain_seq).order_by(TABLE.c.chain_seq)).scalars()
        assert list(seqs) == list(range(1, 101))
    report = _check(engine, clock)
    assert (report.ok, report.checked, report.unsealed) == (True, 100, 0)


def test_a_sealer_whose_head_moved_before_it_wrote_plans_again(
    engine: Engine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record_some(engine, clock, 3)
    plan_batch = audit_module._plan_batch
    overtaken: list[bool] = []

    def plan_then_overtaken(*args: Any) -> Any:
        plan = plan_batch(*args)
        if not overtaken:  # another sealer writes between this plan and its write
            overtaken.append(True)
            assert seal(engine) == 3
            _record_some(engine, clock, 2)
        return plan

    monkeypatch.setattr(audit_module, "_plan_batch", plan_then_overtaken)
    assert seal(engine) == 2  # the stale plan of three was dropped, the two new sealed
    with engine.connect() as conn:
        seqs = conn.execute(select(TABLE.c.chain_seq).order_by(TABLE.c.id)).scalars()
        assert list(seqs) == [1, 2, 3, 4, 5]
    report = _check(engine, clock)
    assert (report.ok, report.checked, report.unsealed) == (True, 5, 0)


def test_a_sealer_overtaken_at_every_plan_gives_up_without_writing(
    sqlite_engine: Engine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _record_some(sqlite_engine, clock, 2)
    monkeypatch.setattr(audit_module, "_write_plan", lambda _engine, _plan: False)
    with pytest.raises(RuntimeError, match="head moved under 10 plans in a row"):
        seal(sqlite_engine)
    assert [_row(sqlite_engine, i).chain_seq for i in ids] == [None, None]


def test_the_sealer_hashes_before_it_takes_the_write_gate(
    engine: Engine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The write discipline: no slow computation while the gate is held (an incoming call
    # waits behind it).
    _record_some(engine, clock, 4)
    digest_row = audit_module._digest_row
    gate_held: list[bool] = []

    def digest_noting_the_gate(*args: Any, **kwargs: Any) -> str:
        gate_held.append(holds_write(engine))
        return digest_row(*args, **kwargs)

    monkeypatch.setattr(audit_module, "_digest_row", digest_noting_the_gate)
    assert seal(engine) == 4
    assert gate_held == [False] * 4


def test_old_unsealed_entries_are_reported(engine: Engine, clock: FrozenClock) -> None:
    (entry_id,) = _record_some(engine, clock, 1)
    clock.set(T0 + timedelta(minutes=4))
    assert _check(engine, clock).ok
    clock.set(T0 + timedelta(minutes=6))
    report = _check(engine, clock)
    assert not report.ok
    assert report.unsealed == 1
    assert report.problems == [
        f"1 unsealed entries older than 0:05:00 (oldest id {entry_id} at "
        "2026-11-23T14:48:12.345678+00:00): the sealer is not running or failing"
    ]
    seal(engine)
    assert _check(engine, clock).ok


# -- record's guard against personal data (R-53) ----------------------------------------------


@pytest.mark.parametrize(
    "details",
    [
        {"name": "x"},
        {"nom": "x"},
        {"prenom": "x"},
        {"Prénom": "x"},
        {"firstName": "x"},
        {"beneficiary_name": "x"},
        {"adresse": "x"},
        {"home_address": "x"},
        {"phone": "x"},
        {"phoneNumber": "x"},
        {"telephone": "x"},
        {"msisdn": "x"},
        {"lat": 48.85},
        {"lon": 2.35},
        {"email": "x"},
        {"victim": {"adresse_postale": "x"}},
        {"changes": [{"field": "ok", "nom_usage": "x"}]},
    ],
)
def test_record_refuses_personal_detail_keys(
    sqlite_engine: Engine, clock: FrozenClock, details: dict[str, Any]
) -> None:
    with Session(sqlite_engine) as session, pytest.raises(ValueError, match="personal data"):
        record(session, actor="user:1", action="file.update", details=details, clock=clock)


@pytest.mark.parametrize(
    "value", ["06 12 34 56 78", "0612345678", "+33 6 12 34 56 78", "jean.dupont@example.fr"]
)
def test_record_refuses_phone_numbers_and_emails_in_values(
    sqlite_engine: Engine, clock: FrozenClock, value: str
) -> None:
    with Session(sqlite_engine) as session, pytest.raises(ValueError, match="e-mail or a phone"):
        record(
            session, actor="carrier", action="call.received", details={"from": value}, clock=clock
        )


@pytest.mark.parametrize(
    "actor", ["admin", "user:", "user:abc", "User:1", "system:", "jean.dupont@example.fr", ""]
)
def test_record_refuses_bad_actors(sqlite_engine: Engine, clock: FrozenClock, actor: str) -> None:
    with Session(sqlite_engine) as session, pytest.raises(ValueError, match="actor"):
        record(session, actor=actor, action="login.failed", clock=clock)


@pytest.mark.parametrize("action", ["login", "Login.failed", "login failed", "file.", ".read", ""])
def test_record_refuses_bad_actions(sqlite_engine: Engine, clock: FrozenClock, action: str) -> None:
    with Session(sqlite_engine) as session, pytest.raises(ValueError, match="action"):
        record(session, actor="anonymous", action=action, clock=clock)


@pytest.mark.parametrize(
    "details", [{"when": T0}, {"ids": {1, 2}}, {"blob": b"x"}, {"ratio": float("nan")}, {1: "x"}]
)
def test_record_refuses_values_that_are_not_json_scalars(
    sqlite_engine: Engine, clock: FrozenClock, details: dict[Any, Any]
) -> None:
    with Session(sqlite_engine) as session, pytest.raises(ValueError, match="audit details"):
        record(session, actor="system:scheduler", action="job.run", details=details, clock=clock)


def test_record_accepts_ids_counts_and_references(
    sqlite_engine: Engine, clock: FrozenClock
) -> None:
    details = {
        "file_number": "2026-0042",
        "reference": "M 75 75056 01 1",
        "territory_id": 75,
        "fields": ("situation", "zones"),
        "latency_ms": 12.5,
        "is_forced": False,
        "previous": None,
        "changes": [{"field": "status", "from": "active", "to": "closed"}],
    }
    for actor in ("user:12", "system:scheduler", "carrier", "terminal", "anonymous"):
        with Session(sqlite_engine) as session:
            entry = record(
                session,
                actor=actor,
                action="file.status_changed",
                object_type="beneficiary_file",
                object_id=42,
                source="2001:db8::1",
                details=details,
                clock=clock,
            )
            stored = entry.details
            session.commit()
    assert stored["fields"] == ["situation", "zones"]  # stored as it will be hashed
    seal(sqlite_engine)
    assert _check(sqlite_engine, clock).ok


# -- export (R-55) --------------------------------------------------------------------------


def test_export_yields_sealed_entries_an_auditor_can_recheck(
    engine: Engine, clock: FrozenClock
) -> None:
    ids = _sealed_chain(engine, clock, 3)
    _record_some(engine, clock, 1)  # unsealed: not exported
    with Session(engine) as session:
        rows = list(export(session, since=T0 + timedelta(seconds=1)))
    assert [r["id"] for r in rows] == ids[1:]
    assert rows[0]["at"] == "2026-11-23T14:48:13.345678+00:00"
    assert rows[0]["details"] == {"territory_id": 75, "fields": ["situation", "zones"], "n": 1}
    prev = rows[0]["prev_hash"]
    for row in rows:
        assert row["prev_hash"] == prev
        recomputed = compute_entry_hash(
            prev,
            chain_seq=row["chain_seq"],
            entry_id=row["id"],
            at=datetime.fromisoformat(row["at"]),
            actor=row["actor"],
            action=row["action"],
            object_type=row["object_type"],
            object_id=row["object_id"],
            source=row["source"],
            details=row["details"],
        )
        assert recomputed == row["entry_hash"]
        prev = row["entry_hash"]
