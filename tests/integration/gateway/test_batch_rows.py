"""A gateway batch's rows nobody reads back go in together before its commit (batch_rows)."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, event, func, inspect, select
from sqlalchemy.engine.default import CACHE_HIT
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from handset_gateway.db import GatewayWriter, _Unit
from handset_gateway.views import _prepare, record_call
from tgd.container import Platform
from tgd.db.models.alerts import Alert, CallLeg, WebhookReceipt
from tgd.db.models.audit import AuditEntry
from tgd.db.models.operations import ConsoleEvent
from tgd.db.writes import write_transaction
from tgd.domain.alerts import AlertState
from tgd.services import alert_rows, audit
from tgd.services import events as console_events
from tgd.services.alerts import IncomingCall

TABLES = ("console_events", "audit_entries", "call_legs", "alerts")


@contextmanager
def _sent(platform: Platform) -> Iterator[list[str]]:
    """The statements sent to the database while the block runs, as they are sent."""
    sent: list[str] = []

    def note(_c: Connection, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    event.listen(platform.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(platform.engine, "before_cursor_execute", note)


def _tables(sent: list[str]) -> list[str]:
    """The tables of TABLES that the INSERT statements of ``sent`` went to, in order."""
    heads = [statement.lstrip().upper() for statement in sent]
    return [
        table
        for head in heads
        for table in TABLES
        if head.startswith(f"INSERT INTO {table.upper()} ")
    ]


def _collects(platform: Platform, name: str) -> Callable[[Session], str]:
    """A unit adding one event and one audit entry by statements (what a voice unit does)."""

    def work(session: Session) -> str:
        values = console_events.event_values(
            "test", {"name": name}, territory_id=None, clock=platform.clock
        )
        console_events.insert_now(session, values)
        audit.insert_now(
            session,
            audit.entry_values(
                session, actor="system:test", action="test.collect", clock=platform.clock
            ),
        )
        return name

    return work


def _refused(platform: Platform) -> Callable[[Session], str]:
    """A unit whose event the database refuses (no kind): known only when it is inserted."""

    def work(session: Session) -> str:
        values = console_events.event_values(
            "test", {"name": "bad"}, territory_id=None, clock=platform.clock
        )
        console_events.insert_now(session, {**values, "kind": None})
        return "bad"

    return work


def _orm_event(platform: Platform, name: str) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        console_events.add_event(
            session, "test", {"name": name}, territory_id=None, clock=platform.clock
        )
        session.flush()
        return name

    return work


def _names(platform: Platform) -> list[str]:
    with platform.sessions() as session:
        found = session.scalars(
            select(ConsoleEvent).where(ConsoleEvent.kind == "test").order_by(ConsoleEvent.seq)
        )
        return [event.payload["name"] for event in found]


def _units(*works: Callable[[Session], str]) -> list[_Unit[str]]:
    deadline = time.monotonic() + 10
    return [_Unit(work, "test", deadline) for work in works]


def _calls(platform: Platform, numbers: list[str]) -> tuple[list[IncomingCall], list[_Unit[str]]]:
    """An incoming call from each number, and the gateway's voice unit recording it."""
    calls = [
        IncomingCall(
            call_sid="CA" + secrets.token_hex(16), from_number=number, to_number="+33199000000"
        )
        for number in numbers
    ]

    def unit(call: IncomingCall) -> Callable[[Session], str]:
        return lambda session: record_call(session, platform, call)

    return calls, _units(*(unit(call) for call in calls))


def test_a_batch_inserts_its_units_rows_with_one_statement_per_table(platform: Platform) -> None:
    units = _units(*(_collects(platform, name) for name in "abcd"))
    with _sent(platform) as sent:
        GatewayWriter(platform)._write(units, [])

    assert sorted(_tables(sent)) == ["audit_entries", "console_events"]
    assert [unit.result for unit in units] == list("abcd")
    assert _names(platform) == list("abcd")  # in the units' order
    with platform.sessions() as session:
        collected = select(func.count()).where(AuditEntry.action == "test.collect")
        assert session.scalar(collected) == 4


def test_the_rows_of_a_batch_go_in_by_a_statement_compiled_once(platform: Platform) -> None:
    # Built from the rows' values, a multi-row INSERT is compiled anew on every batch
    # (SQLAlchemy cannot cache it): the writer's largest item under a burst of calls.
    hits: list[tuple[str, object, int]] = []

    def note(
        c: Connection, _cursor: object, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CONSOLE_EVENTS "):
            hits.append((statement, context.cache_hit, _rows_sent(c, statement, params, many)))

    event.listen(platform.engine, "before_cursor_execute", note)
    try:
        for batch in ("abc", "def"):
            GatewayWriter(platform)._write(_units(*(_collects(platform, n) for n in batch)), [])
    finally:
        event.remove(platform.engine, "before_cursor_execute", note)

    assert len(hits) == 2  # one statement per batch, all its rows in it
    assert [rows for _, _, rows in hits] == [3, 3]
    assert hits[1][1] is CACHE_HIT  # the second batch's statement was not compiled again
    assert _names(platform) == list("abcdef")


def test_several_rows_outside_a_batch_are_one_statement(platform: Platform) -> None:
    # A plain executemany steps once per row on SQLite: a hand-over of the GIL each.
    rows = [
        console_events.event_values("test", {"name": n}, territory_id=None, clock=platform.clock)
        for n in "xyz"
    ]
    inserts: list[int] = []

    def note(
        c: Connection, _cursor: object, statement: str, params: Any, _x: object, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CONSOLE_EVENTS "):
            inserts.append(_rows_sent(c, statement, params, many))

    event.listen(platform.engine, "before_cursor_execute", note)
    try:
        with write_transaction(platform.sessions) as session:
            console_events.insert_all(session, rows)
    finally:
        event.remove(platform.engine, "before_cursor_execute", note)
    assert inserts == [3]  # one statement, three rows
    assert _names(platform) == list("xyz")


def _rows_sent(connection: Connection, statement: str, params: Any, many: bool) -> int:
    """How many rows an INSERT sent to the driver carries, checking the database's path.

    SQLite: one multi-row statement per page ("insertmanyvalues"; a plain ``executemany``
    steps once per row, a hand-over of the GIL each). PostgreSQL: the one-row statement as
    an ``executemany``, which psycopg sends as one pipeline (a multi-row statement's text
    would be converted anew every time).
    """
    if connection.dialect.name == "postgresql":
        assert many and "), (" not in statement, "rows in a multi-row statement"
        return len(params)
    return statement.count("), (") + 1


def test_outside_a_gateway_batch_each_row_is_inserted_at_once(platform: Platform) -> None:
    with _sent(platform) as sent, write_transaction(platform.sessions) as session:
        for name in "ab":
            _collects(platform, name)(session)
        assert _tables(sent) == ["console_events", "audit_entries"] * 2  # before the commit


def test_an_orm_flush_puts_the_rows_collected_before_it_first(platform: Platform) -> None:
    units = _units(_collects(platform, "a"), _orm_event(platform, "b"), _collects(platform, "c"))
    GatewayWriter(platform)._write(units, [])

    assert _names(platform) == ["a", "b", "c"]


def test_refused_rows_run_the_batch_again_and_only_their_unit_fails(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    units = _units(_collects(platform, "a"), _refused(platform), _collects(platform, "c"))
    with caplog.at_level(logging.WARNING, logger="handset_gateway.db"):
        GatewayWriter(platform)._write(units, [])

    assert [unit.result for unit in units] == ["a", None, "c"]
    assert isinstance(units[1].error, IntegrityError)  # its own insert, in the second run
    assert _names(platform) == ["a", "c"]  # the first run's rows were rolled back
    assert "run again with each unit's own inserts" in caplog.text


@pytest.mark.usefixtures("demo")
def test_voice_units_of_one_batch_record_every_alert_whole(platform: Platform, app: Flask) -> None:
    numbers = ["+33612340001", "+33612340003", "+33699999991"]  # two lines, one unknown
    calls, units = _calls(platform, numbers)
    with app.app_context(), _sent(platform) as sent:
        GatewayWriter(platform)._write(units, [])

    assert [unit.error for unit in units] == [None, None, None]
    assert all("<Conference" in unit.result for unit in units)
    # The three alerts in one INSERT, their ids drawn by the claims (one after another on
    # SQLite, from the sequence on PostgreSQL, where a call alone is one statement of CTEs
    # for its rows: test_voice.py).
    assert sorted(_tables(sent)) == ["alerts", "audit_entries", "call_legs", "console_events"]
    sids = [call.call_sid for call in calls]
    with platform.sessions() as session:
        alerts = session.scalars(select(Alert).where(Alert.call_sid.in_(sids))).all()
        assert len(alerts) == 3
        ids = [alert.id for alert in alerts]
        legs = session.scalars(select(CallLeg.call_sid).where(CallLeg.alert_id.in_(ids)))
        assert sorted(legs) == sorted(sids)
        opened = session.scalars(
            select(ConsoleEvent.payload).where(ConsoleEvent.kind == console_events.ALERT_OPENED)
        ).all()
        assert sorted(p["alert_id"] for p in opened if p["alert_id"] in ids) == sorted(ids)
        numbered = select(func.count()).where(
            ConsoleEvent.kind == console_events.ALERT_OPENED, ConsoleEvent.published_seq.is_(None)
        )
        if platform.engine.dialect.name == "sqlite":  # numbered by the batch's commit
            assert session.scalar(numbered) == 0
        audited = session.scalars(
            select(AuditEntry.object_id).where(AuditEntry.object_type == "alert")
        ).all()
        assert {str(i) for i in ids} <= set(audited)


@pytest.mark.usefixtures("demo")
@pytest.mark.parametrize(
    "numbers",
    [
        ["+33612340001", "+33639980000", "+33699999991"],  # a line, the canary, unknown
        # The canary's leg first: the legs' group starts before the alerts'; the alerts
        # still go in first, each leg then finds its alert.
        ["+33639980000", "+33612340001", "+33699999991"],
    ],
)
def test_an_alert_inserted_at_once_in_a_batch_takes_no_collected_alerts_id(
    platform: Platform, app: Flask, caplog: pytest.LogCaptureFixture, numbers: list[str]
) -> None:
    # A canary's alert goes in at once, by the id the database gives, beside calls whose
    # alerts wait with the batch under ids drawn by their claims.
    calls, units = _calls(platform, numbers)
    with app.app_context(), caplog.at_level(logging.WARNING):
        GatewayWriter(platform)._write(units, [])

    assert [unit.error for unit in units] == [None, None, None]
    assert "run again" not in caplog.text  # no alert's id was taken twice
    sids = [call.call_sid for call in calls]
    with platform.sessions() as session:
        alerts = session.scalars(select(Alert).where(Alert.call_sid.in_(sids))).all()
        assert sorted(alert.call_sid for alert in alerts) == sorted(sids)
        by_sid = {alert.call_sid: alert.id for alert in alerts}
        legs = session.execute(select(CallLeg.call_sid, CallLeg.alert_id)).all()
        assert {sid: by_sid[sid] for sid in sids} == {
            sid: alert_id for sid, alert_id in legs if sid in by_sid
        }


@pytest.mark.usefixtures("demo")
@pytest.mark.parametrize(
    "numbers",
    [
        ["+33612340001", "+33639980000", "+33612340003", "+33699999991"],
        ["+33639980000", "+33612340001", "+33699999991"],
    ],
)
def test_a_canarys_alert_between_calls_claimed_together_takes_no_drawn_id(
    platform: Platform, app: Flask, caplog: pytest.LogCaptureFixture, numbers: list[str]
) -> None:
    # The calls' claims read the alerts' next free id before any unit ran; the canary's
    # alert, inserted at once in between, takes the next one the database gives: the calls
    # after it draw theirs after it (SQLite), not the one it took.
    calls = _new_calls(list(numbers))
    units = _prepared_calls(platform, calls)
    with app.app_context(), caplog.at_level(logging.WARNING), _sent(platform) as sent:
        GatewayWriter(platform)._write(units, [])

    assert [unit.error for unit in units] == [None] * len(numbers)
    assert "run again" not in caplog.text  # no alert's id was taken twice
    assert sum("INSERT INTO webhook_receipts" in statement for statement in sent) == 2
    alerts = _alerts_by_sid(platform, [call.call_sid for call in calls])
    assert len({alert.id for alert in alerts.values()}) == len(numbers)
    with platform.sessions() as session:
        legs = dict(session.execute(select(CallLeg.call_sid, CallLeg.alert_id)).all())
    assert {sid: alert.id for sid, alert in alerts.items()} == {sid: legs[sid] for sid in alerts}


def _prepared_calls(platform: Platform, calls: list[IncomingCall]) -> list[_Unit[str]]:
    """The voice units of ``calls`` as the webhook makes them: prepared, their claims given."""
    deadline = time.monotonic() + 10
    units: list[_Unit[str]] = []
    for call in calls:
        prepared = _prepare(platform, call)
        units.append(
            _Unit(
                lambda session, call=call, prepared=prepared: record_call(
                    session, platform, call, prepared
                ),
                "voice",
                deadline,
                urgent=True,
                claim=prepared.claim,
            )
        )
    return units


def _new_calls(numbers: list[str | None]) -> list[IncomingCall]:
    return [
        IncomingCall(
            call_sid="CA" + secrets.token_hex(16), from_number=number, to_number="+33199000000"
        )
        for number in numbers
    ]


def _alerts_by_sid(platform: Platform, sids: list[str]) -> dict[str, Alert]:
    with platform.sessions() as session:
        found = session.scalars(select(Alert).where(Alert.call_sid.in_(sids))).all()
        return {alert.call_sid: alert for alert in found}


@pytest.mark.usefixtures("demo")
def test_a_batch_of_calls_claims_their_receipts_by_one_statement(
    platform: Platform, app: Flask
) -> None:
    # Two lines, an unknown number and a withheld one: each identified as if alone.
    calls = _new_calls(["+33612340001", "+33699999991", "+33612340003", None])
    units = _prepared_calls(platform, calls)
    with app.app_context(), _sent(platform) as sent:
        GatewayWriter(platform)._write(units, [])
    seen = [statement for statement in sent if "INSERT INTO webhook_receipts" in statement]

    assert [unit.error for unit in units] == [None] * 4
    assert len(seen) == 1  # the four claims in one statement
    rows_given = "unnest(" if platform.engine.dialect.name == "postgresql" else "json_each("
    assert rows_given in seen[0]
    alerts = _alerts_by_sid(platform, [call.call_sid for call in calls])
    references = [alerts[call.call_sid].reference for call in calls]
    assert references[0] is not None and references[2] is not None
    assert references[0] != references[2]
    assert references[1] is None and references[3] is None
    assert len({alert.id for alert in alerts.values()}) == 4
    with platform.sessions() as session:
        for unit, call in zip(units, calls, strict=True):
            stored = session.scalar(
                select(WebhookReceipt.response_body).where(
                    WebhookReceipt.key == f"voice:{call.call_sid}"
                )
            )
            assert stored == unit.result and "<Conference" in stored


@pytest.mark.usefixtures("demo")
def test_a_call_twice_in_a_batch_or_already_answered_opens_no_second_alert(
    platform: Platform, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    first, second, answered = _new_calls(["+33612340001", "+33612340003", "+33699999991"])
    with app.app_context(), caplog.at_level(logging.WARNING, logger="handset_gateway.db"):
        GatewayWriter(platform)._write(_prepared_calls(platform, [answered]), [])
        # ``first`` delivered twice at once, beside a new call and an answered one.
        units = _prepared_calls(platform, [first, second, first, answered])
        GatewayWriter(platform)._write(units, [])

    assert [unit.error for unit in units] == [None] * 4
    assert "run again" not in caplog.text  # the batch's claims went through together
    assert units[2].result == units[0].result  # the second delivery replays the first answer
    alerts = _alerts_by_sid(platform, [first.call_sid, second.call_sid, answered.call_sid])
    assert len(alerts) == 3
    with platform.sessions() as session:
        counted = select(func.count()).where(
            Alert.call_sid.in_([first.call_sid, second.call_sid, answered.call_sid])
        )
        assert session.scalar(counted) == 3


@pytest.mark.usefixtures("demo")
def test_claims_refused_together_are_made_again_by_each_unit(
    platform: Platform,
    app: Flask,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    together = alert_rows.claim_together
    refused: list[int] = []

    def fails_once(session: Session, claims: Any, *, at: Any, run: bool = True) -> None:
        if run and not refused:
            refused.append(len(claims))
            raise OperationalError("claim", {}, Exception("the server went away"))
        together(session, claims, at=at, run=run)

    monkeypatch.setattr(alert_rows, "claim_together", fails_once)
    calls = _new_calls(["+33612340001", "+33699999991"])
    units = _prepared_calls(platform, calls)
    with app.app_context(), caplog.at_level(logging.WARNING, logger="handset_gateway.db"):
        GatewayWriter(platform)._write(units, [])

    assert refused == [2]
    assert [unit.error for unit in units] == [None, None]
    assert "claims together refused" in caplog.text
    assert len(_alerts_by_sid(platform, [call.call_sid for call in calls])) == 2


@pytest.mark.usefixtures("demo")
def test_a_batchs_alerts_stay_in_its_session_as_loaded_with_nothing_to_flush(
    platform: Platform, app: Flask
) -> None:
    # An alert inserted by statements is put in the session as a load puts it: the rest
    # of the unit (and of the batch) reads it with no query, and the commit updates nothing.
    calls = _new_calls(["+33612340001", "+33699999991"])
    units = _prepared_calls(platform, calls)
    added: list[Alert] = []  # held here: the session's identity map holds them weakly
    seen: list[tuple[str | None, bool, bool]] = []

    def note(_session: Session, item: object) -> None:
        if isinstance(item, Alert):
            added.append(item)

    def look(_session: Session) -> str:  # the batch's last unit, in the same transaction
        seen.extend((a.call_sid, inspect(a).persistent, inspect(a).modified) for a in added)
        return "looked"

    event.listen(Session, "detached_to_persistent", note)
    try:
        with app.app_context(), _sent(platform) as sent:
            GatewayWriter(platform)._write([*units, *_units(look)], [])
    finally:
        event.remove(Session, "detached_to_persistent", note)

    assert sorted(seen) == sorted((call.call_sid, True, False) for call in calls)
    assert not [statement for statement in sent if statement.startswith("UPDATE alerts")]
    alerts = _alerts_by_sid(platform, [call.call_sid for call in calls])
    assert {alert.state for alert in alerts.values()} == {AlertState.RINGING}
