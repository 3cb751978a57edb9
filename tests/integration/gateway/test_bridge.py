"""The bridge: status callbacks, watchdog (R-24b), forces, hand-over, counter-call (R-24, R-26)."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tgd.adapters.clock import FrozenClock
from tgd.adapters.fake_twilio import FakeTwilio, FakeTwilioServer
from tgd.adapters.twilio_telephony import TwilioTelephony, build_telephony
from tgd.calls_first import calls
from tgd.container import Platform
from tgd.db.models.alerts import Alert, CallLeg
from tgd.db.models.forces import ForceUnit
from tgd.db.models.lines import Line
from tgd.db.models.operations import ConsoleEvent
from tgd.db.models.positions import PositionRequest
from tgd.db.models.users import User
from tgd.db.writes import gate_for, write_transaction
from tgd.domain.alerts import AlertState, LegRole
from tgd.domain.errors import Conflict
from tgd.services import dispatch
from tgd.services.escalation import run_escalation
from tgd.settings import Settings

from .conftest import (
    COUNTER_NUMBER,
    LINE_1,
    LINE_3,
    OVERFLOW_NUMBER,
    PUBLIC,
    TEST_NUMBER,
    UNIT_NUMBER,
    TwilioClient,
)

pytestmark = pytest.mark.usefixtures("demo")
CALLBACKS = dispatch.Callbacks(
    f"{PUBLIC}/gateway/twilio/voice/status", f"{PUBLIC}/gateway/twilio/conference/status"
)


def _open(twilio: TwilioClient, session: Session, sid: str, **kwargs: str) -> Alert:
    assert twilio.call(sid, **kwargs).status_code == 200
    alert = session.scalar(select(Alert).where(Alert.call_sid == sid))
    assert alert is not None
    session.commit()  # end the read snapshot, so the next reads see what webhooks commit
    return alert


def _escalate(platform: Platform, app: object, settings: Settings | None = None) -> tuple[int, int]:
    """One escalation pass (escalated, overflowed), as the scheduler's job runs it."""
    return run_escalation(
        platform.sessions,
        settings=settings or platform.settings,
        telephony=app.extensions["tgd.telephony"],  # type: ignore[attr-defined]
        callbacks=CALLBACKS,
        clock=platform.clock,
    )


def _conference(
    twilio: TwilioClient,
    alert: Alert,
    event: str,
    call_sid: str | None = None,
    cf: str = "CF1",
    **more: str,
) -> int:
    params = {
        "ConferenceSid": cf,
        "FriendlyName": alert.conference_name,
        "StatusCallbackEvent": event,
        **more,
    }
    if call_sid:
        params["CallSid"] = call_sid
    return twilio.post("/gateway/twilio/conference/status", params).status_code


def _kinds(session: Session) -> list[str]:
    return [e.kind for e in session.scalars(select(ConsoleEvent).order_by(ConsoleEvent.seq))]


def test_caller_joining_marks_the_alert_answered(twilio: TwilioClient, session: Session) -> None:
    alert = _open(twilio, session, "CA1")
    assert _conference(twilio, alert, "conference-start") == 200
    assert _conference(twilio, alert, "participant-join", "CA1") == 200
    session.refresh(alert)
    assert alert.conference_sid == "CF1" and alert.answered_at is not None
    assert "alert_answered" in _kinds(session)


def test_caller_hanging_up_ends_the_leg_once(twilio: TwilioClient, session: Session) -> None:
    alert = _open(twilio, session, "CA2")
    params = {"CallSid": "CA2", "CallStatus": "completed", "CallDuration": "12"}
    for _ in range(2):
        assert twilio.post("/gateway/twilio/voice/status", params).status_code == 200
    leg = session.scalar(select(CallLeg).where(CallLeg.call_sid == "CA2"))
    assert leg is not None and leg.ended_at is not None and leg.duration_s == 12
    session.refresh(alert)
    assert alert.ended_at is not None
    assert _kinds(session).count("alert_call_ended") == 1


def test_bridge_ending_while_open_calls_the_terminal_back(
    twilio: TwilioClient, session: Session, fake: FakeTwilio
) -> None:
    alert = _open(twilio, session, "CA3")
    _conference(twilio, alert, "conference-start")
    assert _conference(twilio, alert, "conference-end") == 200
    assert _conference(twilio, alert, "conference-end") == 200  # duplicate delivery: one call-back
    created = [r for r in fake.requests if r.path.endswith("/Participants.json")]
    assert len(created) == 1
    request = created[0]
    assert alert.conference_name in request.path
    assert request.value("To") == LINE_1 and request.value("EndConferenceOnExit") == "true"
    assert request.value("Beep") == "false" and request.value("WaitUrl") == ""
    session.refresh(alert)
    assert alert.bridge_lost_at is not None and alert.callback_count == 1
    leg = session.scalar(
        select(CallLeg).where(CallLeg.alert_id == alert.id, CallLeg.role == LegRole.CALLBACK)
    )
    assert leg is not None
    assert {"alert_bridge_lost", "alert_called_back"} <= set(_kinds(session))


def test_call_backs_stop_after_the_configured_number(
    twilio: TwilioClient, session: Session, fake: FakeTwilio, settings: Settings
) -> None:
    alert = _open(twilio, session, "CA4")
    for n in range(settings.gateway.max_callbacks + 2):
        _conference(twilio, alert, "conference-end", cf=f"CF{n}")
    assert (
        len([r for r in fake.requests if r.path.endswith("/Participants.json")])
        == settings.gateway.max_callbacks
    )


def test_no_call_back_for_a_closed_alert_or_a_test_call(
    twilio: TwilioClient, session: Session, fake: FakeTwilio
) -> None:
    closed = _open(twilio, session, "CA5")
    closed.state = AlertState.CLOSED
    session.commit()
    _conference(twilio, closed, "conference-end")
    test = _open(twilio, session, "CA6", to=TEST_NUMBER)
    _conference(twilio, test, "conference-end", cf="CF6")
    assert fake.requests == []


def test_carrier_fault_on_call_back_raises_a_supervisor_alarm(
    twilio: TwilioClient, session: Session, fake: FakeTwilio
) -> None:
    alert = _open(twilio, session, "CA7")
    fake.fail_next(500)
    assert _conference(twilio, alert, "conference-end") == 200
    event = session.scalar(select(ConsoleEvent).where(ConsoleEvent.kind == "supervisor_alarm"))
    assert event is not None and event.payload["reason"] == "callback_failed"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/gateway/twilio/voice/status", {"CallStatus": "completed"}),
        ("/gateway/twilio/voice/status", {"CallSid": "CA1"}),
        (
            "/gateway/twilio/conference/status",
            {"FriendlyName": "tgd-x", "StatusCallbackEvent": "conference-end"},
        ),
        ("/gateway/twilio/conference/status", {"ConferenceSid": "CF1", "FriendlyName": "tgd-x"}),
    ],
)
def test_status_callbacks_without_ids_are_400(
    twilio: TwilioClient, path: str, params: dict[str, str]
) -> None:
    response = twilio.post(path, params)
    assert response.status_code == 400 and response.json is not None
    assert response.json["error"] == "missing_field"


def test_events_of_unknown_calls_are_acknowledged(twilio: TwilioClient) -> None:
    assert (
        twilio.post(
            "/gateway/twilio/voice/status", {"CallSid": "CAzz", "CallStatus": "busy"}
        ).status_code
        == 200
    )
    params = {
        "ConferenceSid": "CFzz",
        "FriendlyName": "tgd-unknown",
        "StatusCallbackEvent": "conference-end",
    }
    assert twilio.post("/gateway/twilio/conference/status", params).status_code == 200


def _unit(session: Session) -> ForceUnit:
    unit = session.scalar(select(ForceUnit).where(ForceUnit.priority_number == UNIT_NUMBER))
    assert unit is not None
    return unit


def _placed(
    session: Session, pending: dispatch.PendingDial, platform: Platform, app: object
) -> CallLeg:
    """Commit the intent, place it at the (fake) carrier, record the outcome: a view's steps."""
    session.commit()
    result = dispatch.place(
        pending,
        telephony=app.extensions["tgd.telephony"],  # type: ignore[attr-defined]
        gateway=platform.settings.gateway,
        callbacks=CALLBACKS,
    )
    leg = dispatch.record_dial(session, result, clock=platform.clock)
    session.commit()
    return leg


def test_add_force_dials_the_priority_line_into_the_bridge(
    twilio: TwilioClient, session: Session, fake: FakeTwilio, platform: Platform, app: object
) -> None:
    alert = _open(twilio, session, "CA8")
    pending = dispatch.add_force(session, alert, _unit(session), user_id=1, clock=platform.clock)
    assert fake.requests == []  # nothing is asked of the carrier before the commit
    leg = session.get(CallLeg, pending.leg_id)
    assert leg is not None and leg.status == "dialling" and leg.call_sid is None
    leg = _placed(session, pending, platform, app)
    [request] = fake.requests
    assert request.path.endswith(f"/Conferences/{alert.conference_name}/Participants.json")
    assert request.value("To") == UNIT_NUMBER and request.value("EndConferenceOnExit") == "false"
    assert request.value("StatusCallback") == CALLBACKS.for_leg(leg.id)
    assert request.value("Label") == f"leg-{leg.id}"
    # Told of its ringing, answer and end; not of "initiated", which shows as "queued" does.
    assert request.form["StatusCallbackEvent"] == ["ringing", "answered", "completed"]
    assert leg.role == LegRole.POLICE and leg.call_sid and leg.call_sid.startswith("CA")
    assert leg.status == "queued"
    session.refresh(alert)
    assert alert.unit_id == leg.unit_id and alert.police_called_at is not None


def test_carrier_refusing_the_force_leaves_a_failed_leg_and_no_police_time(
    twilio: TwilioClient, session: Session, fake: FakeTwilio, platform: Platform, app: object
) -> None:
    alert = _open(twilio, session, "CA8b")
    pending = dispatch.add_force(session, alert, _unit(session), user_id=1, clock=platform.clock)
    fake.fail_next(500)
    leg = _placed(session, pending, platform, app)
    assert leg.status == "failed" and leg.failure == "refused:500:20500"
    assert leg.call_sid is None and leg.ended_at is not None
    session.refresh(alert)
    assert alert.police_called_at is None and alert.unit_id is None


def test_add_force_refused_on_a_closed_alert(
    twilio: TwilioClient, session: Session, platform: Platform
) -> None:
    alert = _open(twilio, session, "CA9")
    alert.state = AlertState.CLOSED
    with pytest.raises(Conflict):
        dispatch.add_force(session, alert, _unit(session), user_id=1, clock=platform.clock)


def test_operator_leaves_without_ending_the_bridge_and_the_overflow_stays(
    twilio: TwilioClient, session: Session, fake: FakeTwilio, platform: Platform, app: object
) -> None:
    alert = _open(twilio, session, "CA10")
    operator = session.scalar(select(User).where(User.username == "operateur"))
    assert operator is not None
    leg = _placed(
        session,
        dispatch.dial_operator(
            session, alert, user_id=operator.id, line="+33199001001", clock=platform.clock
        ),
        platform,
        app,
    )
    overflow = _placed(
        session,
        dispatch.prepare_overflow(session, alert, number=OVERFLOW_NUMBER, clock=platform.clock),
        platform,
        app,
    )
    assert fake.requests[0].value("EndConferenceOnExit") == "false"  # R-24b
    assert overflow.role == LegRole.OVERFLOW
    alert.conference_sid = "CFlive"
    removals = dispatch.operator_leave(session, alert, user_id=operator.id, clock=platform.clock)
    assert [r.leg_id for r in removals] == [leg.id]
    session.refresh(leg)
    assert leg.status == "leaving"
    session.commit()
    telephony = app.extensions["tgd.telephony"]  # type: ignore[attr-defined]
    [left] = [
        dispatch.record_removal(
            session, dispatch.remove(r, telephony=telephony), clock=platform.clock
        )
        for r in removals
    ]
    assert left.status == "left" and left.ended_at is not None
    assert fake.requests[-1].method == "DELETE"
    assert fake.requests[-1].path.endswith(f"/Conferences/CFlive/Participants/{leg.call_sid}.json")
    session.refresh(overflow)
    assert overflow.ended_at is None and overflow.status == "queued"  # the backup stays
    assert dispatch.operator_leave(session, alert, user_id=operator.id, clock=platform.clock) == []


def test_a_refused_removal_keeps_the_leg_in_the_bridge_with_the_reason(
    twilio: TwilioClient, session: Session, fake: FakeTwilio, platform: Platform, app: object
) -> None:
    alert = _open(twilio, session, "CA10b")
    leg = _placed(
        session,
        dispatch.dial_operator(
            session, alert, user_id=1, line="+33199001001", clock=platform.clock
        ),
        platform,
        app,
    )
    removals = dispatch.operator_leave(session, alert, user_id=1, clock=platform.clock)
    session.commit()
    fake.fail_next(503)
    telephony = app.extensions["tgd.telephony"]  # type: ignore[attr-defined]
    kept = dispatch.record_removal(
        session, dispatch.remove(removals[0], telephony=telephony), clock=platform.clock
    )
    assert kept.id == leg.id and kept.status == "queued" and kept.ended_at is None
    assert kept.failure == "refused:503:20500"


def _dialled_force(
    twilio: TwilioClient, session: Session, platform: Platform, sid: str
) -> tuple[dispatch.PendingDial, str]:
    """A police leg recorded and committed, and the status callback URL the carrier got."""
    alert = _open(twilio, session, sid)
    pending = dispatch.add_force(session, alert, _unit(session), user_id=1, clock=platform.clock)
    session.commit()
    return pending, f"/gateway/twilio/voice/status?leg={pending.leg_id}"


def _announced(session: Session, leg_id: int) -> list[str]:
    """The statuses of one leg told to the consoles, in order."""
    return [
        event.payload["status"]
        for event in session.scalars(
            select(ConsoleEvent)
            .where(ConsoleEvent.kind == "leg_updated")
            .order_by(ConsoleEvent.seq)
        )
        if event.payload["leg_id"] == leg_id
    ]


def test_status_callback_before_the_rest_answer_finds_its_leg(
    twilio: TwilioClient, session: Session, platform: Platform
) -> None:
    pending, path = _dialled_force(twilio, session, platform, "CA10c")
    # The carrier calls back (ringing, answered) before our REST call returned its call id.
    for status in ("ringing", "in-progress"):
        assert twilio.post(path, {"CallSid": "CAearly", "CallStatus": status}).status_code == 200
    leg = dispatch.record_dial(
        session, dispatch.DialResult(pending, call_sid="CAearly"), clock=platform.clock
    )
    assert leg.call_sid == "CAearly" and leg.status == "in-progress"  # the later status stays
    assert leg.answered_at is not None


def test_status_callbacks_out_of_order_never_move_a_leg_back(
    twilio: TwilioClient, session: Session, platform: Platform
) -> None:
    # Twilio does not promise its callbacks arrive in order (nor does a carrier that sends
    # them in parallel): a late "ringing" must not show a connected officer as ringing.
    pending, path = _dialled_force(twilio, session, platform, "CA10e")
    sent = [
        {"CallStatus": "in-progress"},
        {"CallStatus": "ringing"},  # overtaken by "in-progress"
        {"CallStatus": "completed", "CallDuration": "42"},
        {"CallStatus": "initiated"},  # overtaken by everything
    ]
    for params in sent:
        assert twilio.post(path, {"CallSid": "CAooo", **params}).status_code == 200
    session.commit()
    leg = session.get(CallLeg, pending.leg_id)
    assert leg is not None and leg.status == "completed" and leg.duration_s == 42
    announced = _announced(session, leg.id)
    assert announced[-2:] == ["in-progress", "completed"]  # the late ones said nothing


def test_repeated_callbacks_tell_the_consoles_each_change_once(
    twilio: TwilioClient, session: Session, platform: Platform
) -> None:
    # E-03 without a receipt: the carrier may repeat a callback, and a leg's answer comes
    # twice (its call status, then its joining the bridge). Every console event goes to
    # every screen: one per change, none for a repeat.
    pending, path = _dialled_force(twilio, session, platform, "CA10f")
    alert = session.get(Alert, pending.alert_id)
    assert alert is not None
    joined = {
        "ConferenceSid": "CF1",
        "FriendlyName": alert.conference_name,
        "StatusCallbackEvent": "participant-join",
        "CallSid": "CArep",
        "ParticipantLabel": f"leg-{pending.leg_id}",
    }
    for status in ("ringing", "ringing", "in-progress", "in-progress"):
        assert twilio.post(path, {"CallSid": "CArep", "CallStatus": status}).status_code == 200
    assert twilio.post("/gateway/twilio/conference/status", joined).status_code == 200
    assert twilio.post("/gateway/twilio/conference/status", joined).status_code == 200
    for _ in range(2):
        params = {"CallSid": "CArep", "CallStatus": "completed", "CallDuration": "7"}
        assert twilio.post(path, params).status_code == 200
    assert twilio.post("/gateway/twilio/conference/status", joined).status_code == 200  # late
    session.commit()
    assert _announced(session, pending.leg_id) == [
        "dialling",
        "ringing",
        "in-progress",
        "completed",
    ]
    leg = session.get(CallLeg, pending.leg_id)
    assert leg is not None and leg.duration_s == 7 and leg.ended_at is not None
    assert leg.status == "completed"


def test_a_legs_callbacks_load_no_object_of_the_leg_or_its_alert(
    twilio: TwilioClient, session: Session, platform: Platform
) -> None:
    # Three or four callbacks per dialled leg: as ORM objects (the leg, its alert's fifty
    # columns, a flush) each cost about as much CPU as an alert (leg_rows, docs/gateway.md).
    pending, path = _dialled_force(twilio, session, platform, "CA10g")
    alert = session.get_one(Alert, pending.alert_id)
    participant = {"CallSid": "CAcols", "ParticipantLabel": f"leg-{pending.leg_id}"}
    loaded: list[str] = []

    def seen(target: object, _context: object) -> None:
        loaded.append(type(target).__name__)

    for model in (CallLeg, Alert):
        event.listen(model, "load", seen)
    try:
        for status in ("ringing", "in-progress"):
            params = {"CallSid": "CAcols", "CallStatus": status}
            assert twilio.post(path, params).status_code == 200
        assert _conference(twilio, alert, "participant-join", **participant) == 200
        assert _conference(twilio, alert, "participant-leave", **participant) == 200
    finally:
        for model in (CallLeg, Alert):
            event.remove(model, "load", seen)
    assert loaded == []
    session.commit()
    leg = session.get_one(CallLeg, pending.leg_id)
    assert (leg.call_sid, leg.status) == ("CAcols", "in-progress")
    assert leg.answered_at is not None and leg.ended_at is not None
    assert _announced(session, pending.leg_id) == ["dialling", "ringing", "in-progress"]


def test_a_status_writes_only_the_columns_it_changed(
    twilio: TwilioClient, session: Session, platform: Platform
) -> None:
    # PostgreSQL runs other writers beside the gateway's (a dial's outcome): a status must
    # not write back, from its own read, a column it did not change.
    _pending, path = _dialled_force(twilio, session, platform, "CA10i")
    assert twilio.post(path, {"CallSid": "CAonly", "CallStatus": "ringing"}).status_code == 200
    updates: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE CALL_LEGS"):
            updates.append(" ".join(statement.split()))

    event.listen(platform.engine, "before_cursor_execute", seen)
    try:
        params = {"CallSid": "CAonly", "CallStatus": "in-progress"}
        assert twilio.post(path, params).status_code == 200
    finally:
        event.remove(platform.engine, "before_cursor_execute", seen)
    assert len(updates) == 1
    set_clause = updates[0].split(" SET ", 1)[1].split(" WHERE ", 1)[0]
    assert sorted(part.split("=")[0].strip() for part in set_clause.split(",")) == [
        "answered_at",
        "status",
    ]


def test_a_status_is_seen_by_the_orm_copies_of_its_leg_and_alert_in_the_same_batch(
    twilio: TwilioClient, session: Session, platform: Platform
) -> None:
    # The gateway writer runs several units in one session: a leg or alert loaded as an
    # object by an earlier unit must show what a status written as columns changed.
    alert = _open(twilio, session, "CA10h")
    with write_transaction(platform.sessions) as batch:
        leg = batch.scalars(select(CallLeg).where(CallLeg.call_sid == "CA10h")).one()
        loaded_alert = batch.get_one(Alert, alert.id)
        assert leg.ended_at is None and loaded_alert.ended_at is None
        dispatch.record_call_status(batch, "CA10h", "completed", duration_s=9, clock=platform.clock)
        assert (leg.status, leg.duration_s) == ("completed", 9)
        assert leg.ended_at is not None and loaded_alert.ended_at is not None
    session.refresh(alert)
    assert alert.ended_at is not None
    assert _kinds(session).count("alert_call_ended") == 1


def test_a_leg_that_ended_busy_stays_busy_when_another_end_arrives(
    twilio: TwilioClient, session: Session, platform: Platform
) -> None:
    # Out of order or from a confused carrier: a call ends once, with the first reason.
    pending, path = _dialled_force(twilio, session, platform, "CA10g")
    assert twilio.post(path, {"CallSid": "CAbusy", "CallStatus": "busy"}).status_code == 200
    params = {"CallSid": "CAbusy", "CallStatus": "completed", "CallDuration": "0"}
    assert twilio.post(path, params).status_code == 200
    session.commit()
    leg = session.get(CallLeg, pending.leg_id)
    assert leg is not None and (leg.status, leg.failure) == ("busy", "busy")
    assert _announced(session, pending.leg_id) == ["dialling", "busy"]


def test_conference_join_with_the_label_marks_the_leg_in_line(
    twilio: TwilioClient, session: Session, platform: Platform
) -> None:
    alert = _open(twilio, session, "CA10d")
    pending = dispatch.dial_operator(
        session, alert, user_id=1, line="+33199001001", clock=platform.clock
    )
    session.commit()
    params = {
        "ConferenceSid": "CF1",
        "FriendlyName": alert.conference_name,
        "StatusCallbackEvent": "participant-join",
        "CallSid": "CAop",
        "ParticipantLabel": f"leg-{pending.leg_id}",
    }
    assert twilio.post("/gateway/twilio/conference/status", params).status_code == 200
    leg = session.get(CallLeg, pending.leg_id)
    session.refresh(leg)
    assert leg is not None and leg.status == "in-progress" and leg.call_sid == "CAop"


def test_counter_call_joins_the_units_ongoing_alert(
    twilio: TwilioClient, session: Session, platform: Platform, app: object
) -> None:
    alert = _open(twilio, session, "CA11")
    _placed(
        session,
        dispatch.add_force(session, alert, _unit(session), user_id=1, clock=platform.clock),
        platform,
        app,
    )
    body = twilio.call("CA12", from_=UNIT_NUMBER, to=COUNTER_NUMBER).get_data(as_text=True)
    assert alert.conference_name in body and 'endConferenceOnExit="false"' in body
    assert session.scalar(select(Alert).where(Alert.call_sid == "CA12")) is None
    leg = session.scalar(select(CallLeg).where(CallLeg.call_sid == "CA12"))
    assert leg is not None and leg.role == LegRole.COUNTER_CALL and leg.alert_id == alert.id


def test_counter_call_without_ongoing_alert_goes_to_the_supervisors(twilio: TwilioClient) -> None:
    body = twilio.call("CA13", from_=UNIT_NUMBER, to=COUNTER_NUMBER).get_data(as_text=True)
    assert f"<Number>{OVERFLOW_NUMBER}</Number>" in body and "<Conference" not in body


def test_request_position_sends_the_sms_command_and_records_it(
    twilio: TwilioClient, session: Session, fake: FakeTwilio, platform: Platform, app: object
) -> None:
    alert = _open(twilio, session, "CA14")
    line = session.get(Line, alert.line_id)
    assert line is not None
    request = dispatch.request_position(session, line, clock=platform.clock)
    session.commit()
    assert fake.requests == []
    sid, failure = dispatch.send_position_request(
        line.msisdn,
        telephony=app.extensions["tgd.telephony"],  # type: ignore[attr-defined]
        gateway=platform.settings.gateway,
    )
    assert failure is None
    kept = dispatch.record_position_request(session, request.id, sid, clock=platform.clock)
    [sent] = fake.requests
    assert sent.path.endswith("/Messages.json") and sent.value("To") == LINE_1
    assert sent.value("Body") == platform.settings.gateway.position_request_command
    assert kept is not None and kept.alert_id == alert.id
    assert kept.message_sid and kept.message_sid.startswith("SM")
    assert session.scalar(select(PositionRequest)) is kept


def test_a_position_request_the_carrier_refused_is_dropped(
    twilio: TwilioClient, session: Session, fake: FakeTwilio, platform: Platform, app: object
) -> None:
    alert = _open(twilio, session, "CA15")
    line = session.get(Line, alert.line_id)
    assert line is not None
    request = dispatch.request_position(session, line, clock=platform.clock)
    session.commit()
    fake.fail_next(500)
    sid, failure = dispatch.send_position_request(
        line.msisdn,
        telephony=app.extensions["tgd.telephony"],  # type: ignore[attr-defined]
        gateway=platform.settings.gateway,
    )
    assert sid is None and failure == "refused:500:20500"
    assert dispatch.record_position_request(session, request.id, None, clock=platform.clock) is None
    session.commit()
    assert session.scalar(select(PositionRequest)) is None


def test_rest_client_talks_to_a_fake_twilio_over_http(settings: Settings) -> None:
    import dataclasses

    with FakeTwilioServer() as server:
        configured = dataclasses.replace(
            settings,
            twilio=dataclasses.replace(
                settings.twilio, api_base_url=server.url, account_sid="ACtest"
            ),
        )
        telephony: TwilioTelephony = build_telephony(configured)
        assert telephony.fake is None
        sid = telephony.add_participant(
            "tgd-abc",
            to="+33140001111",
            from_="+33199000000",
            end_conference_on_exit=False,
            status_callback="http://x/s",
            conference_status_callback="http://x/c",
        )
        telephony.remove_participant("CFabc", sid)
        telephony.hang_up(sid)
        message = telephony.send_sms(to=LINE_1, from_="+33199000000", body="TGD POS?")
        assert sid.startswith("CA") and message.startswith("SM")
        paths = [r.path for r in server.fake.requests]
        assert paths == [
            "/2010-04-01/Accounts/ACtest/Conferences/tgd-abc/Participants.json",
            f"/2010-04-01/Accounts/ACtest/Conferences/CFabc/Participants/{sid}.json",
            f"/2010-04-01/Accounts/ACtest/Calls/{sid}.json",
            "/2010-04-01/Accounts/ACtest/Messages.json",
        ]


def test_overflow_marks_the_alert_and_dials_the_backup_after_the_commit(
    twilio: TwilioClient, session: Session, fake: FakeTwilio, platform: Platform, app: object
) -> None:
    alert = _open(twilio, session, "CA16")
    clock = platform.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(seconds=platform.settings.alerts.overflow_after_seconds + 1)

    assert _escalate(platform, app)[1] == 1
    leg = session.scalars(
        select(CallLeg).where(CallLeg.alert_id == alert.id, CallLeg.role == LegRole.OVERFLOW)
    ).one()
    assert leg.status == "queued" and leg.call_sid is not None
    assert len(fake.requests) == 1 and fake.requests[-1].path.endswith("/Participants.json")
    session.refresh(alert)
    assert alert.overflowed_at is not None
    assert _escalate(platform, app)[1] == 0 and len(fake.requests) == 1  # once, whatever the passes


def test_an_overflow_batch_dials_each_alert_with_a_number_and_marks_the_others(
    twilio: TwilioClient, session: Session, fake: FakeTwilio, platform: Platform, app: object
) -> None:
    known = _open(twilio, session, "CA17")  # a Paris line: the territory's backup centre
    unknown = _open(twilio, session, "CA18", from_="+33700000099")  # no territory
    clock = platform.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(seconds=platform.settings.alerts.overflow_after_seconds + 1)
    no_fallback = dataclasses.replace(
        platform.settings,
        alerts=dataclasses.replace(platform.settings.alerts, overflow_number=""),
    )

    assert _escalate(platform, app, no_fallback) == (2, 2)

    session.expire_all()
    overflow_legs = session.scalars(select(CallLeg).where(CallLeg.role == LegRole.OVERFLOW))
    assert [leg.alert_id for leg in overflow_legs] == [known.id]
    assert [r.path.endswith("/Participants.json") for r in fake.requests] == [True]
    events = session.scalars(select(ConsoleEvent).where(ConsoleEvent.kind == "alert_overflowed"))
    assert {e.payload["alert_id"]: e.payload["dialled"] for e in events} == {
        known.id: True,
        unknown.id: False,
    }
    assert all(session.get(Alert, a.id).overflowed_at for a in (known, unknown))  # type: ignore[union-attr]


def test_a_batch_of_dial_outcomes_is_recorded_with_one_event_per_leg_in_order(
    twilio: TwilioClient, session: Session, platform: Platform
) -> None:
    first, second = _open(twilio, session, "CA20"), _open(twilio, session, "CA21", from_=LINE_3)
    pending = [
        dispatch.prepare_overflow(session, alert, number=OVERFLOW_NUMBER, clock=platform.clock)
        for alert in (first, second)
    ]
    session.commit()
    outcomes = [
        dispatch.DialResult(pending[0], call_sid="CAtaken"),
        dispatch.DialResult(pending[1], failure="refused:400:21211"),
    ]
    legs = dispatch.record_dials(session, outcomes, clock=platform.clock)
    session.commit()

    assert [(leg.status, leg.call_sid, leg.failure) for leg in legs] == [
        ("queued", "CAtaken", None),
        ("failed", None, "refused:400:21211"),
    ]
    assert legs[1].ended_at is not None
    announced = session.scalars(
        select(ConsoleEvent.payload)
        .where(ConsoleEvent.kind == "leg_updated")
        .order_by(ConsoleEvent.seq.desc())
        .limit(2)
    ).all()
    assert [(p["leg_id"], p["status"]) for p in reversed(announced)] == [
        (legs[0].id, "queued"),
        (legs[1].id, "failed"),
    ]


def test_overflow_dials_wait_for_a_call_being_taken(
    twilio: TwilioClient,
    session: Session,
    fake: FakeTwilio,
    platform: Platform,
    app: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # tgd.calls_first: a pass's dials step aside while a caller's webhook is being answered.
    alert = _open(twilio, session, "CA19")
    pending = dispatch.prepare_overflow(
        session, alert, number=OVERFLOW_NUMBER, clock=platform.clock
    )
    session.commit()
    monkeypatch.setattr(calls, "max_wait", 5.0)
    taken, hang_up = threading.Event(), threading.Event()

    def take_call() -> None:
        with calls.taking_call():
            taken.set()
            hang_up.wait(5)

    def dial() -> None:
        dispatch.complete_dials(
            platform.sessions,
            [pending],
            telephony=app.extensions["tgd.telephony"],  # type: ignore[attr-defined]
            gateway=platform.settings.gateway,
            callbacks=CALLBACKS,
            clock=platform.clock,
        )

    call = threading.Thread(target=take_call)
    call.start()
    assert taken.wait(5)
    dialler = threading.Thread(target=dial)
    dialler.start()
    dialler.join(0.2)
    placed_during_the_call = len(fake.requests)
    hang_up.set()
    call.join(5)
    dialler.join(10)

    assert placed_during_the_call == 0
    assert [r.path.endswith("/Participants.json") for r in fake.requests] == [True]


def test_a_pass_records_its_overflow_dials_a_few_per_transaction(
    twilio: TwilioClient, session: Session, fake: FakeTwilio, platform: Platform, app: object
) -> None:
    # A pass that overflows many alerts records their dials in short transactions, so a
    # webhook waits for one of them at most (it waited behind all of them at once).
    count = 2 * dispatch.DIAL_BATCH + 2
    alerts = [_open(twilio, session, f"CA9{n:02d}") for n in range(count)]
    clock = platform.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(seconds=platform.settings.alerts.overflow_after_seconds + 1)
    stats = gate_for(platform.engine).stats
    dial_transactions = stats.holds.get("dial", 0)

    assert _escalate(platform, app) == (count, count)

    assert stats.holds.get("dial", 0) - dial_transactions == 3  # 5, 5, then 2
    session.expire_all()
    legs = session.scalars(select(CallLeg).where(CallLeg.role == LegRole.OVERFLOW)).all()
    assert sorted(leg.alert_id for leg in legs) == sorted(a.id for a in alerts)
    assert all(leg.status == "queued" and leg.call_sid for leg in legs)
    assert len({leg.call_sid for leg in legs}) == count
    assert len([r for r in fake.requests if r.path.endswith("/Participants.json")]) == count
