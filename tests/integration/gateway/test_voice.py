"""POST /gateway/twilio/voice: identification, durability, idempotency, bridge (R-20..R-24)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, delete, event, func, select
from sqlalchemy.orm import Session

from handset_gateway import twiml
from handset_gateway.views import record_call
from tgd.adapters.crypto import EnvelopeCipher
from tgd.container import Platform
from tgd.db.models.alerts import Alert, CallLeg, WebhookReceipt
from tgd.db.models.audit import AuditEntry
from tgd.db.models.beneficiaries import BeneficiaryFile, CommissioningRecord
from tgd.db.models.lines import Line, LineAssignment
from tgd.db.models.operations import ConsoleEvent
from tgd.db.models.territories import Juridiction
from tgd.db.writes import write_transaction
from tgd.domain.alerts import AlertNature, AlertState, LegRole
from tgd.domain.lifecycle import CommissioningStep
from tgd.http import limiter
from tgd.services import vault
from tgd.services.alerts import IncomingCall

from .conftest import (
    ALERT_NUMBER,
    CANARY_NUMBER,
    LINE_1,
    LINE_3,
    LINE_5,
    OVERFLOW_NUMBER,
    PUBLIC,
    TEST_NUMBER,
    TwilioClient,
)

pytestmark = pytest.mark.usefixtures("demo")
CONFERENCE = re.compile(r"<Conference ([^>]*)>([^<]+)</Conference>")


def _alert(session: Session, sid: str) -> Alert:
    alert = session.scalar(select(Alert).where(Alert.call_sid == sid))
    assert alert is not None
    return alert


def test_known_line_is_identified_stored_and_bridged(
    twilio: TwilioClient, session: Session
) -> None:
    response = twilio.call("CA0001")
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    body = response.get_data(as_text=True)
    attrs, name = CONFERENCE.search(body).groups()  # type: ignore[union-attr]
    alert = _alert(session, "CA0001")
    assert name == alert.conference_name and re.fullmatch(r"tgd-[0-9a-f]{24}", name)
    assert "0001" not in name  # R-24b: opaque, never the number
    assert 'beep="false"' in attrs and 'waitUrl=""' in attrs  # nothing that could betray the caller
    assert 'startConferenceOnEnter="true"' in attrs and 'endConferenceOnExit="true"' in attrs
    assert f'statusCallback="{PUBLIC}/gateway/twilio/conference/status"' in attrs
    assert "<Say" not in body and "<Play" not in body
    assert alert.reference == "M 75 75056 01 1"
    assert alert.file_id is not None and alert.state == AlertState.RINGING
    file = session.get(BeneficiaryFile, alert.file_id)
    assert file is not None and alert.data_key_id == file.data_key_id
    leg = session.scalar(select(CallLeg).where(CallLeg.alert_id == alert.id))
    assert leg is not None and leg.role == LegRole.CALLER and leg.call_sid == "CA0001"
    event = session.scalar(select(ConsoleEvent).where(ConsoleEvent.kind == "alert_opened"))
    assert event is not None and event.payload["alert_id"] == alert.id
    assert event.territory_id == alert.territory_id is not None
    assert LINE_1 not in str(event.payload)


def test_repeated_delivery_returns_the_first_answer_and_creates_nothing(
    twilio: TwilioClient, session: Session
) -> None:
    first = twilio.call("CA0002").get_data(as_text=True)
    again = twilio.call("CA0002").get_data(as_text=True)
    other_from = twilio.call("CA0002", from_=LINE_5).get_data(as_text=True)
    assert first == again == other_from
    assert session.scalar(select(func.count()).select_from(Alert)) == 1
    assert session.scalar(select(func.count()).select_from(WebhookReceipt)) == 1
    assert session.scalar(select(func.count()).select_from(ConsoleEvent)) == 1


def test_unknown_number_is_still_an_alert_with_its_number_encrypted(
    twilio: TwilioClient, session: Session, cipher: EnvelopeCipher
) -> None:
    response = twilio.call("CA0003", from_="+33 6 99 99 99 99")
    assert response.status_code == 200 and "<Conference" in response.get_data(as_text=True)
    alert = _alert(session, "CA0003")
    assert alert.reference is None and alert.line_id is None and alert.file_id is None
    assert alert.caller_number_enc is not None and b"99" not in alert.caller_number_enc
    number = vault.get_text(session, cipher, alert, "caller_number_enc", key_id=alert.data_key_id)
    assert number == "+33699999999"


def test_unidentified_callers_of_one_write_each_have_their_number_under_their_own_id(
    app: Flask, platform: Platform, session: Session, cipher: EnvelopeCipher
) -> None:
    # SQLite draws each alert's id before its insert (one more than the largest): the
    # alerts of one batch, and one inserted after the largest was deleted, must each hold
    # a number bound to the id they were given.
    calls = [
        IncomingCall(call_sid=f"CA00b{n}", from_number=f"+3369999990{n}", to_number=ALERT_NUMBER)
        for n in range(4)
    ]
    with app.app_context():
        with write_transaction(platform.sessions) as writing:
            for call in calls[:3]:
                record_call(writing, platform, call)
            writing.execute(delete(CallLeg).where(CallLeg.call_sid == "CA00b2"))
            writing.execute(delete(Alert).where(Alert.call_sid == "CA00b2"))
        with write_transaction(platform.sessions) as writing:
            record_call(writing, platform, calls[3])
    ids = []
    for n in (0, 1, 3):
        alert = _alert(session, f"CA00b{n}")
        key_id = alert.data_key_id
        number = vault.get_text(session, cipher, alert, "caller_number_enc", key_id=key_id)
        assert number == f"+3369999990{n}"
        ids.append(alert.id)
    assert ids[0] < ids[1] < ids[2]


def test_an_unidentified_alert_is_written_with_its_key_in_few_statements(
    twilio: TwilioClient, platform: Platform
) -> None:
    # Every statement of the gateway's write is a round trip that webhooks queue behind:
    # the alert's key is made first, so the alert is inserted with it (no UPDATE of its key)
    # and the key is then read from the session, not the database; the receipt needs no
    # savepoint (its key is claimed first, with the answer).
    statements = _statements_of(platform, lambda: twilio.call("CA0003b", from_="+33699999998"))
    assert not [s for s in statements if s.startswith("UPDATE alerts SET data_key_id")]
    assert not [s for s in statements if s.startswith("SELECT data_keys.")]
    assert not [s for s in statements if s.startswith("SAVEPOINT")]
    # The answer is known before the alert is written: the receipt is written once, with it.
    receipts = [s for s in statements if "INSERT INTO webhook_receipts" in s]
    assert len(receipts) == 1
    assert not [s for s in statements if s.startswith("UPDATE webhook_receipts")]
    updates = [s for s in statements if s.startswith("UPDATE alerts")]
    if platform.engine.dialect.name == "postgresql":
        # The receipt is claimed as the caller is looked up and the alert's id drawn, so
        # its number is encrypted before the insert, and its key, the alert, its leg,
        # event and audit entry are one statement.
        assert not updates
        assert statements[0].startswith("WITH claim AS (INSERT INTO webhook_receipts ")
        assert " SELECT (SELECT claim.id FROM claim) AS receipt_id, nextval(" in statements[0]
        assert statements[1].startswith("WITH new_key AS (INSERT INTO data_keys ")
        assert len(statements) == 2  # the claim with the identification, the alert's rows
        return
    # The receipt is claimed as the caller is looked up and the next free id read (the
    # write excludes every other writer), so its number, encrypted under the id, goes in
    # with the row (no UPDATE, no ORM flush).
    assert not updates
    assert statements[1].startswith("WITH identified AS (SELECT json_array((SELECT coalesce(")
    assert "INSERT INTO webhook_receipts " in statements[1]
    assert len([s for s in statements if "max(alerts.id)" in s]) == 1
    # The key, the leg, the event and the audit entry: one insert each (built once).
    for table in ("data_keys", "alerts", "call_legs", "console_events", "audit_entries"):
        assert len([s for s in statements if s.startswith(f"INSERT INTO {table} ")]) == 1


def test_a_known_lines_alert_is_written_by_statements_with_every_column(
    twilio: TwilioClient, platform: Platform, session: Session
) -> None:
    statements = _statements_of(platform, lambda: twilio.call("CA0003c"))
    if platform.engine.dialect.name == "postgresql":
        # The receipt's claim with the caller's line and the alert's id, the alert's rows;
        # then the commit (not a statement here): three round trips.
        assert [s.split(" ")[0] for s in statements] == ["WITH", "WITH"]
        assert statements[0].startswith("WITH claim AS (INSERT INTO webhook_receipts ")
        assert statements[1].startswith("WITH new_alert AS (INSERT INTO alerts ")
    else:
        # The receipt's claim with its answer and the caller's line (no look-up first nor
        # after), then one insert per row, the alert's holding every column (a statement
        # built once, not the ORM's flush), not updated after.
        assert statements[0] == "BEGIN IMMEDIATE"  # the writer's, keeping other writers out
        assert statements[1].startswith("WITH identified AS (SELECT json_array(")
        assert 'INSERT INTO webhook_receipts ("key", response_body' in statements[1]
        assert "FROM lines" not in "".join(statements[2:])
        assert not [s for s in statements if "FROM webhook_receipts" in s]
        assert not [s for s in statements if s.startswith("UPDATE webhook_receipts")]
        inserts = [s for s in statements if s.startswith("INSERT INTO alerts ")]
        assert len(inserts) == 1 and "data_key_id" in inserts[0] and "callback_count" in inserts[0]
        assert not [s for s in statements if s.startswith("UPDATE alerts")]
    alert = _alert(session, "CA0003c")
    assert alert.reference == "M 75 75056 01 1" and alert.caller_number_enc is None
    # Every column written, the defaults the ORM's flush would have given included.
    assert (alert.state, alert.nature) == (AlertState.RINGING, AlertNature.NON_QUALIFIEE)
    assert (alert.is_test, alert.is_canary, alert.callback_count) == (False, False, 0)
    assert alert.created_at == alert.ringing_at and alert.closed_at is None
    assert session.scalar(select(func.count()).where(CallLeg.alert_id == alert.id)) == 1
    event = session.scalars(select(ConsoleEvent).where(ConsoleEvent.kind == "alert_opened")).one()
    assert event.payload["alert_id"] == alert.id and event.payload["identified"] is True
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "alert.opened")).one()
    assert (entry.actor, entry.object_id) == ("carrier", str(alert.id))


def test_a_known_lines_alert_loads_no_object_of_its_line(
    twilio: TwilioClient, session: Session
) -> None:
    # The caller is identified as columns (alert_rows.Caller): loading the line, its
    # assignment, file and juridiction as objects was a fifth of a voice unit's CPU.
    loaded: list[str] = []

    def seen(target: object, _context: object) -> None:
        loaded.append(type(target).__name__)

    watched = (Line, LineAssignment, BeneficiaryFile, Juridiction)
    for model in watched:
        event.listen(model, "load", seen)
    try:
        assert twilio.call("CA0003d").status_code == 200
    finally:
        for model in watched:
            event.remove(model, "load", seen)
    assert loaded == []
    alert = _alert(session, "CA0003d")
    file = session.get_one(BeneficiaryFile, alert.file_id)
    assert (alert.reference, alert.data_key_id) == ("M 75 75056 01 1", file.data_key_id)
    line = session.get_one(Line, alert.line_id)
    assert alert.territory_id == session.get_one(Juridiction, line.juridiction_id).territory_id


def _statements_of(platform: Platform, act: Callable[[], Any]) -> list[str]:
    """The statements ``act`` ran, but for the writer's bounds (set once per connection)."""
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if not statement.startswith("SELECT set_config('lock_timeout'"):
            statements.append(" ".join(statement.split()))

    event.listen(platform.engine, "before_cursor_execute", seen)
    try:
        assert act().status_code == 200
    finally:
        event.remove(platform.engine, "before_cursor_execute", seen)
    return statements


@pytest.mark.parametrize(
    "withheld", [None, "anonymous", "+266696687", "restricted", "not a number"]
)
def test_withheld_or_garbled_number_is_an_unidentified_alert(
    twilio: TwilioClient, session: Session, withheld: str | None
) -> None:
    response = twilio.call("CA0004", from_=withheld)
    assert response.status_code == 200 and "<Conference" in response.get_data(as_text=True)
    alert = _alert(session, "CA0004")
    assert alert.reference is None and alert.caller_number_enc is None


def test_test_call_is_recorded_as_such_and_counts_for_the_file(
    twilio: TwilioClient, session: Session
) -> None:
    twilio.call("CA0005", from_=LINE_1, to=TEST_NUMBER)
    alert = _alert(session, "CA0005")
    assert alert.is_test and alert.nature == AlertNature.ESSAI
    file = session.get(BeneficiaryFile, alert.file_id)
    assert file is not None and file.last_test_call_at == alert.ringing_at


def test_test_call_during_commissioning_satisfies_step_three(
    twilio: TwilioClient, session: Session
) -> None:
    twilio.call("CA0006", from_=LINE_3, to=TEST_NUMBER)
    alert = _alert(session, "CA0006")
    record = session.scalar(
        select(CommissioningRecord).where(CommissioningRecord.alert_id == alert.id)
    )
    assert record is not None and record.succeeded
    assert record.step == CommissioningStep.TEST_CALL_BY_PERSON  # R-11 step 3


def test_canary_line_makes_a_marked_alert(twilio: TwilioClient, session: Session) -> None:
    twilio.call("CA0007", from_=CANARY_NUMBER)
    alert = _alert(session, "CA0007")
    assert alert.is_canary and alert.nature == AlertNature.CANARI and not alert.is_test


def test_line_without_file_gets_its_own_key(twilio: TwilioClient, session: Session) -> None:
    twilio.call("CA0008", from_=LINE_5)
    alert = _alert(session, "CA0008")
    assert alert.reference is not None and alert.file_id is None
    assert alert.data_key_id is not None


@pytest.mark.parametrize(
    "params",
    [
        {"To": ALERT_NUMBER},  # no CallSid, no From
        {"CallSid": "CA0009", "From": "<script>", "To": "?", "Foo": "bar", "CallStatus": "\x00"},
        {"CallSid": "CA" + "9" * 200, "From": LINE_1},  # absurdly long id
    ],
)
def test_malformed_call_is_still_bridged_never_a_500(
    twilio: TwilioClient, session: Session, params: dict[str, str]
) -> None:
    response = twilio.post("/gateway/twilio/voice", params)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<Conference" in body or "<Number" in body


def test_a_call_whose_answer_cannot_be_made_is_bridged_and_kept_for_later(
    app: Flask,
    twilio: TwilioClient,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The call is prepared (classified, its answer made) before the writer, in the
    # webhook's thread: a failure there is R-21's "whatever failed" too.
    def broken(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("the bridge's answer could not be made")

    monkeypatch.setattr(twiml, "render", broken)
    with caplog.at_level(logging.INFO):
        response = twilio.call("CA0010b")
    assert response.status_code == 200
    assert f"<Number>{OVERFLOW_NUMBER}</Number>" in response.get_data(as_text=True)
    assert "deferred to the spool" in caplog.text
    assert app.extensions["tgd.spool"].pending() == 1


def test_database_failure_bridges_the_caller_and_keeps_the_call_for_later(
    app: Flask, platform: Platform, twilio: TwilioClient, caplog: pytest.LogCaptureFixture
) -> None:
    broken = create_engine("sqlite:////nonexistent-dir/tgd.db")
    platform.engine, healthy = broken, platform.engine
    try:
        with caplog.at_level(logging.INFO):
            response = twilio.call("CA0010")
    finally:
        platform.engine = healthy
        broken.dispose()
    assert response.status_code == 200
    assert f"<Number>{OVERFLOW_NUMBER}</Number>" in response.get_data(as_text=True)
    assert "deferred to the spool" in caplog.text and "ALERT NOT RECORDED" not in caplog.text
    assert LINE_1 not in caplog.text and "0001" not in caplog.text.replace("CA0010", "")
    spool = app.extensions["tgd.spool"]
    assert spool.pending() == 1
    for path in spool.directory.iterdir():  # R-52, E-11: the number is encrypted on disk
        assert b"12340001" not in path.read_bytes() and b"CA0010" not in path.read_bytes()


def test_spool_that_cannot_be_written_still_bridges_and_logs_critical(
    app: Flask, platform: Platform, twilio: TwilioClient, caplog: pytest.LogCaptureFixture
) -> None:
    spool = app.extensions["tgd.spool"]
    spool.directory.parent.mkdir(parents=True, exist_ok=True)
    spool.directory.write_text("not a directory")  # the disk refuses too
    broken = create_engine("sqlite:////nonexistent-dir/tgd.db")
    platform.engine, healthy = broken, platform.engine
    try:
        with caplog.at_level(logging.CRITICAL):
            response = twilio.call("CA0011")
    finally:
        platform.engine = healthy
        broken.dispose()
    assert response.status_code == 200
    assert f"<Number>{OVERFLOW_NUMBER}</Number>" in response.get_data(as_text=True)
    assert "ALERT NOT RECORDED" in caplog.text
    assert LINE_1 not in caplog.text


def test_the_carrier_webhooks_never_reach_the_rate_limiter(
    twilio: TwilioClient, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # E-01: no limit may refuse an alert; the gateway skips the limiter's look-ups at once.
    looked_up: list[str | None] = []
    manager = limiter.limit_manager
    resolve = manager.resolve_limits

    def counting(app: Flask, endpoint: str | None, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(endpoint)
        return resolve(app, endpoint, *args, **kwargs)

    monkeypatch.setattr(manager, "resolve_limits", counting)
    assert twilio.call("CA00c1").status_code == 200
    assert twilio.post("/gateway/twilio/voice", {"CallSid": "CA00c2"}, signed=False).status_code
    assert looked_up == []
    assert client.get("/connexion").status_code == 200
    assert looked_up  # the operators' pages are limited as before
