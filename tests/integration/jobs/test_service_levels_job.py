"""Service-level clocks (R-32): navette 15 min, swap 24 h, unclaimed alerts; recorded once.

The clock is Monday 23 November 2026, 10:30 in Paris. Swap delays are opening hours of the
assistance centre (Monday–Saturday 9:00–18:00 local, CCP X.4).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tests import builders
from tests.integration.jobs.conftest import RunJob
from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models import Alert, Navette, ServiceLevelBreach, Swap, Terminal
from tgd.db.writes import TOKEN_KEY, write_transaction
from tgd.domain.alerts import AlertNature, AlertState
from tgd.domain.lifecycle import LineStatus, NavetteKind, NavetteSource, NavetteState
from tgd.jobs import service_levels as service_levels_job
from tgd.services import dispatch, service_levels
from tgd.services.escalation import run_escalation


def _breaches(platform: Platform) -> list[ServiceLevelBreach]:
    with platform.sessions() as s:
        return list(s.scalars(select(ServiceLevelBreach).order_by(ServiceLevelBreach.id)))


def test_clocks_that_ran_out_are_recorded_once_with_their_figures(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    now = clock.now()
    with write_transaction(platform.sessions) as s:
        jur = builders.juridiction(s, insee="75056", clock=clock)
        line = builders.line(s, juridiction=jur, status=LineStatus.AFFECTE, clock=clock).line
        late = Navette(
            kind=NavetteKind.ATTRIBUTION,
            source=NavetteSource.PORTAIL,
            state=NavetteState.RECUE,
            juridiction_id=jur.id,
            received_at=now - timedelta(minutes=20),
        )
        on_time = Navette(
            kind=NavetteKind.ATTRIBUTION,
            source=NavetteSource.FAX,
            state=NavetteState.TRAITEE,
            juridiction_id=jur.id,
            received_at=now - timedelta(minutes=40),
            processed_at=now - timedelta(minutes=30),
        )
        terminal = Terminal(imei="356000000000999")
        s.add_all([late, on_time, terminal])
        s.flush()
        s.add(
            Swap(
                line_id=line.id,
                new_terminal_id=terminal.id,
                # Thursday 10:30 to Monday 09:30, Paris: 7.5 + 9 + 9 + 0.5 = 26 opening hours.
                reported_at=now - timedelta(days=4),
                swapped_at=now - timedelta(hours=1),
            )
        )
        ringing = Alert(
            call_sid="CAsla-1",
            line_id=line.id,
            territory_id=jur.territory_id,
            reference="M 75 75056 01 1",
            conference_name="tgd-sla-1",
            state=AlertState.RINGING,
            nature=AlertNature.NON_QUALIFIEE,
            ringing_at=now - timedelta(seconds=25),
        )
        claimed_fast = Alert(
            call_sid="CAsla-2",
            line_id=line.id,
            conference_name="tgd-sla-2",
            state=AlertState.CLAIMED,
            nature=AlertNature.NON_QUALIFIEE,
            ringing_at=now - timedelta(seconds=60),
            claimed_at=now - timedelta(seconds=55),
        )
        canary = Alert(
            call_sid="CAsla-3",
            conference_name="tgd-sla-3",
            state=AlertState.RINGING,
            nature=AlertNature.CANARI,
            is_canary=True,
            ringing_at=now - timedelta(seconds=60),
        )
        s.add_all([ringing, claimed_fast, canary])
        s.flush()
        late_id, ringing_id = late.id, ringing.id
    run("service_levels")
    found = {(b.kind, b.subject_type): b for b in _breaches(platform)}
    assert set(found) == {
        ("navette_15min", "navette"),
        ("swap_24h", "swap"),
        ("alerte_non_prise", "alert"),
    }
    assert found[("navette_15min", "navette")].subject_id == late_id
    assert found[("swap_24h", "swap")].delay_seconds == 26 * 3600
    assert found[("alerte_non_prise", "alert")].ended_at is None
    with platform.sessions() as s:
        navette = s.get(Navette, late_id)
        assert navette is not None and navette.is_breach
    # The operator claims it 40 s after the ring: the breach gets its final figure, once.
    with write_transaction(platform.sessions) as s:
        alert = s.get(Alert, ringing_id)
        assert alert is not None
        alert.claimed_at = alert.ringing_at + timedelta(seconds=40)
    clock.advance(minutes=1)
    run("service_levels")
    run("service_levels")
    breaches = _breaches(platform)
    assert len(breaches) == 3
    unclaimed = next(b for b in breaches if b.kind == "alerte_non_prise")
    assert unclaimed.delay_seconds == 40 and unclaimed.limit_seconds == 10
    with platform.sessions() as s:
        counts = service_levels.count_breaches(s, clock.now() - timedelta(days=5), clock.now())
    assert counts == {"navette_15min": 1, "swap_24h": 1, "alerte_non_prise": 1}


def _unclaimed_alerts(platform: Platform, clock: FrozenClock, count: int) -> None:
    now = clock.now()
    with write_transaction(platform.sessions) as s:
        s.add_all(
            Alert(
                call_sid=f"CAburst-{n}",
                conference_name=f"tgd-burst-{n}",
                state=AlertState.RINGING,
                nature=AlertNature.NON_QUALIFIEE,
                ringing_at=now - timedelta(seconds=30),
            )
            for n in range(count)
        )


def test_after_a_burst_the_job_writes_its_breaches_in_short_transactions(
    platform: Platform, clock: FrozenClock, run: RunJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One transaction for thousands of breaches held the write gate 256 ms under the bench,
    # with every alert webhook of that moment waiting behind it.
    _unclaimed_alerts(platform, clock, 7)
    monkeypatch.setattr(service_levels_job, "BATCH", 3)
    written: list[int] = []
    apply = service_levels.apply

    def counting(session: Session, plan: service_levels.LevelsPlan) -> service_levels.LevelsRun:
        assert session.info.get(TOKEN_KEY) is not None  # in a write transaction of its own
        written.append(len(plan.to_record) + len(plan.to_finish))
        return apply(session, plan)

    monkeypatch.setattr(service_levels, "apply", counting)
    job = run("service_levels")
    assert written == [3, 3, 1]
    assert job is not None and (job.details["recorded"], job.details["finished"]) == (7, 0)
    assert len(_breaches(platform)) == 7


def test_a_plan_written_twice_records_each_breach_once(
    platform: Platform, clock: FrozenClock
) -> None:
    # Two runs (two processes, or a catch-up beside the leader) may plan the same breaches
    # before either writes: the second one's writes find them known.
    _unclaimed_alerts(platform, clock, 2)
    with platform.sessions() as reader:
        plan = service_levels.plan_service_levels(
            reader, settings=platform.settings, since=None, now=clock.now()
        )
    with write_transaction(platform.sessions) as s:
        assert service_levels.apply(s, plan) == service_levels.LevelsRun(2, 0)
    with write_transaction(platform.sessions) as s:
        assert service_levels.apply(s, plan) == service_levels.LevelsRun(0, 0)
    assert len(_breaches(platform)) == 2


def test_a_batch_s_breaches_go_in_by_one_statement(platform: Platform, clock: FrozenClock) -> None:
    # An ORM object and a flush per breach cost about four times the CPU, with the write
    # gate held, after a burst of unclaimed alerts (docs/gateway.md).
    _unclaimed_alerts(platform, clock, 5)
    with platform.sessions() as reader:
        plan = service_levels.plan_service_levels(
            reader, settings=platform.settings, since=None, now=clock.now()
        )
    inserts: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO SERVICE_LEVEL_BREACHES"):
            inserts.append(statement)

    event.listen(platform.engine, "before_cursor_execute", seen)
    try:
        with write_transaction(platform.sessions) as s:
            assert service_levels.apply(s, plan) == service_levels.LevelsRun(5, 0)
    finally:
        event.remove(platform.engine, "before_cursor_execute", seen)
    assert len(inserts) == 1
    breaches = _breaches(platform)
    assert len(breaches) == 5
    assert {b.detected_at for b in breaches} == {clock.now()}
    assert all(b.limit_seconds == 10 and b.ended_at is None for b in breaches)


def test_a_run_reads_no_more_the_ringing_alerts_it_has_recorded(
    platform: Platform, clock: FrozenClock, run: RunJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After a burst, thousands of alerts ring unclaimed for minutes: every run read them
    # all again, for nothing to write.
    _unclaimed_alerts(platform, clock, 3)
    read: list[int] = []
    alerts = service_levels._alerts

    def reading(*args: Any, **kwargs: Any) -> Any:
        for item in alerts(*args, **kwargs):
            read.append(item.subject_id)
            yield item

    monkeypatch.setattr(service_levels, "_alerts", reading)
    run("service_levels")
    assert len(read) == 3
    with write_transaction(platform.sessions) as s:
        claimed = s.scalars(select(Alert).order_by(Alert.id).limit(1)).one()
        claimed.claimed_at = clock.now()
    clock.advance(minutes=1)
    read.clear()
    job = run("service_levels")
    assert read == [claimed.id]  # the one to complete; the two still ringing are not read
    assert job is not None and (job.details["recorded"], job.details["finished"]) == (0, 1)
    # The live view of the clocks still shows every late alert: recorded, ringing or not.
    with platform.sessions() as s:
        late = service_levels.clocks_running_late(
            s, settings=platform.settings, since=None, now=clock.now()
        )
    assert len([item for item in late if item.kind == service_levels.UNCLAIMED]) == 3


def test_the_alerts_are_read_a_chunk_at_a_time_each_after_the_calls_in_progress(
    platform: Platform, clock: FrozenClock, run: RunJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unclaimed_alerts(platform, clock, 5)
    monkeypatch.setattr(service_levels, "_READ_CHUNK", 2)
    chunks: list[int] = []
    monkeypatch.setattr(service_levels, "let_calls_pass", lambda: chunks.append(1) or 0.0)
    job = run("service_levels")
    assert len(chunks) == 3  # 2 + 2 + 1 alerts
    assert job is not None and job.details["recorded"] == 5


def test_the_escalation_records_the_breach_of_the_alerts_it_escalates(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    # R-32's limit for an unclaimed alert is R-23's escalation delay: recorded by the job
    # alone, a burst's breaches came 2,200 at once each minute.
    _unclaimed_alerts(platform, clock, 3)
    escalated, _ = run_escalation(
        platform.sessions,
        settings=platform.settings,
        telephony=None,
        callbacks=dispatch.Callbacks("http://tgd.test/status", "http://tgd.test/conference"),
        clock=clock,
    )
    assert escalated == 3
    breaches = _breaches(platform)
    assert [(b.kind, b.subject_type, b.ended_at) for b in breaches] == [
        ("alerte_non_prise", "alert", None)
    ] * 3
    assert {b.detected_at for b in breaches} == {clock.now()}
    assert all(b.limit_seconds == 10 and b.started_at < b.deadline_at for b in breaches)
    job = run("service_levels")  # the catch-up finds them recorded
    assert job is not None and job.details["recorded"] == 0
    assert len(_breaches(platform)) == 3


def test_a_breach_recorded_twice_at_once_on_postgresql_is_left_out_not_failed(
    platform: Platform, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The escalation and the job may each check an alert's breach unknown in transactions
    # running at once (PostgreSQL's writers run together); SQLite has one writer at a time.
    if platform.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers take turns: the check in the transaction is enough")
    _unclaimed_alerts(platform, clock, 2)
    with platform.sessions() as s:
        ids = list(s.scalars(select(Alert.id).order_by(Alert.id)))
    with write_transaction(platform.sessions) as s:
        service_levels.record_escalated(s, ids, settings=platform.settings, now=clock.now())
    monkeypatch.setattr(service_levels, "_known", lambda _session, _items: set())
    with write_transaction(platform.sessions) as s:  # as if the first had not committed yet
        service_levels.record_escalated(s, ids, settings=platform.settings, now=clock.now())
        s.execute(select(1))  # the transaction goes on after the insert
    assert len(_breaches(platform)) == 2


def test_a_run_reads_the_open_breaches_of_the_subjects_it_reads_only(
    platform: Platform, clock: FrozenClock, run: RunJob
) -> None:
    # After a burst thousands of breaches stay open for minutes: a run read them all.
    _unclaimed_alerts(platform, clock, 3)
    run("service_levels")
    with write_transaction(platform.sessions) as s:
        claimed = s.scalars(select(Alert).order_by(Alert.id).limit(1)).one()
        claimed.claimed_at = clock.now()
    clock.advance(minutes=1)
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = " ".join(statement.split())
        if words.startswith("SELECT service_level_breaches"):  # not a subquery of another
            reads.append(words)

    event.listen(platform.engine, "before_cursor_execute", seen)
    try:
        job = run("service_levels")
    finally:
        event.remove(platform.engine, "before_cursor_execute", seen)
    assert job is not None and job.details["finished"] == 1
    by_ids = ("service_level_breaches.subject_id IN", "service_level_breaches.id IN")
    assert reads and all(any(found in read for found in by_ids) for read in reads), reads
