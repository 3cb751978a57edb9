"""The bridge (R-24, R-24b, R-26): calls into conferences, forces, hand-over and the watchdog.

``receive_call`` answers every incoming call once (E-03): a terminal's call
opens an alert whose caller is put into an opaque conference (R-21, R-24); a
counter-call from a police or gendarmerie number joins the conference of that
unit's ongoing alert, or goes to the supervisors' line (R-26).
``add_force`` dials a unit's priority line into the bridge, ``operator_leave``
takes the operator out without cutting the others, ``request_position`` asks a
terminal for its position by SMS (R-28). The carrier's status callbacks land in
``record_call_status`` and ``record_conference_event``; the latter is also the
watchdog that calls the terminal back when the bridge ends while the alert is
still open (R-24b). Carrier requests go through the ``Telephony`` port.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert, CallLeg
from tgd.db.models.forces import ForceUnit
from tgd.db.models.lines import Line
from tgd.db.models.positions import PositionRequest
from tgd.db.models.territories import Territory
from tgd.domain.alerts import AlertState, LegRole
from tgd.domain.errors import N_, Conflict
from tgd.ports import Cipher, Clock, Telephony, TelephonyError
from tgd.services import audit, events, vault
from tgd.services.alerts import (
    CallKind,
    CallRoute,
    IncomingCall,
    answer_once,
    classify,
    new_conference_name,
    ongoing_alert_for_line,
    open_alert,
    raise_supervisor_alarm,
)
from tgd.settings import AlertSettings, GatewaySettings

log = logging.getLogger(__name__)

ENDED_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


@dataclass(frozen=True)
class Callbacks:
    """The public URLs the carrier reports call and conference events to."""

    call_status: str
    conference_status: str


@dataclass(frozen=True)
class ConferenceEvent:
    """One conference status callback from the carrier."""

    conference_sid: str
    friendly_name: str
    event: str  # conference-start, conference-end, participant-join, participant-leave…
    call_sid: str | None = None


def receive_call(
    session: Session,
    call: IncomingCall,
    *,
    render: Callable[[CallRoute], str],
    gateway: GatewaySettings,
    alerts: AlertSettings,
    counter_call_number: str,
    cipher: Cipher,
    clock: Clock,
) -> str:
    """Record an incoming call once and return its rendered answer (R-21, E-03)."""
    kind = classify(
        call,
        test_number=gateway.test_call_number,
        canary_number=gateway.canary_number,
        counter_number=counter_call_number,
    )

    def produce() -> str:
        if kind == CallKind.COUNTER_CALL:
            return render(
                route_counter_call(session, call, gateway=gateway, alerts=alerts, clock=clock)
            )
        alert = open_alert(session, call, kind=kind, cipher=cipher, clock=clock)
        return render(CallRoute(conference=alert.conference_name, alert_id=alert.id))

    body, _ = answer_once(session, f"voice:{call.call_sid}", produce, clock=clock)
    return body


def mark_overflowed(session: Session, call_sid: str, *, at: datetime) -> None:
    """Note that a call was dialled on to the backup centre already: no second overflow."""
    session.execute(
        update(Alert)
        .where(Alert.call_sid == call_sid, Alert.overflowed_at.is_(None))
        .values(overflowed_at=at)
        .execution_options(synchronize_session=False)
    )


def route_counter_call(
    session: Session,
    call: IncomingCall,
    *,
    gateway: GatewaySettings,
    alerts: AlertSettings,
    clock: Clock,
) -> CallRoute:
    """R-26: a unit calling back joins its ongoing alert's bridge, else the supervisors' line."""
    unit = None
    if call.from_number:
        unit = session.scalar(
            select(ForceUnit)
            .where(
                ForceUnit.is_active.is_(True),
                (ForceUnit.callback_number == call.from_number)
                | (ForceUnit.priority_number == call.from_number),
            )
            .limit(1)
        )
    alert = None
    if unit is not None:
        alert = session.scalar(
            select(Alert)
            .where(Alert.unit_id == unit.id, Alert.state != AlertState.CLOSED)
            .order_by(Alert.id.desc())
            .limit(1)
        )
    if alert is not None and unit is not None:
        session.add(
            CallLeg(
                alert_id=alert.id,
                call_sid=call.call_sid,
                role=LegRole.COUNTER_CALL,
                unit_id=unit.id,
                status="ringing",
                started_at=clock.now(),
            )
        )
        events.add_event(
            session,
            events.COUNTER_CALL_ROUTED,
            {"alert_id": alert.id, "unit_id": unit.id},
            territory_id=alert.territory_id,
            clock=clock,
        )
        log.info("counter-call unit=%s routed to alert=%s", unit.id, alert.id)
        return CallRoute(
            conference=alert.conference_name, end_conference_on_exit=False, alert_id=alert.id
        )
    backup = None
    if unit is not None:
        backup = session.scalar(
            select(Territory.backup_number).where(Territory.id == unit.territory_id)
        )
    number = gateway.supervisors_number or alerts.overflow_number or backup
    log.info(
        "counter-call unit=%s has no ongoing alert: supervisors' line", unit.id if unit else None
    )
    if number:
        return CallRoute(dial=number)
    # Nowhere to send it: keep the caller in a bridge of its own and tell the supervisors.
    route = CallRoute(conference=new_conference_name(), end_conference_on_exit=True)
    raise_supervisor_alarm(
        session, "counter_call_unrouted", {"conference": route.conference or ""}, clock=clock
    )
    return route


def add_force(
    session: Session,
    alert: Alert,
    unit: ForceUnit,
    *,
    telephony: Telephony,
    gateway: GatewaySettings,
    callbacks: Callbacks,
    clock: Clock,
) -> CallLeg:
    """Dial the unit's priority line into the alert's bridge (R-24: three-way dialogue)."""
    if alert.state == AlertState.CLOSED:
        raise Conflict(N_("L'alerte est close : impossible d'y ajouter les forces de l'ordre."))
    call_sid = _dial_in(
        alert, unit.priority_number, telephony, gateway, callbacks, ends_bridge=False
    )
    now = clock.now()
    leg = _dialled_leg(session, alert, call_sid, LegRole.POLICE, unit_id=unit.id, clock=clock)
    alert.unit_id = unit.id
    alert.police_called_at = alert.police_called_at or now  # answer-to-police
    session.flush()
    events.add_event(
        session,
        events.FORCE_ADDED,
        {"alert_id": alert.id, "unit_id": unit.id, "leg_id": leg.id},
        territory_id=alert.territory_id,
        clock=clock,
    )
    return leg


def join_operator(
    session: Session,
    alert: Alert,
    *,
    number: str,
    user_id: int | None,
    telephony: Telephony,
    gateway: GatewaySettings,
    callbacks: Callbacks,
    clock: Clock,
) -> CallLeg:
    """Dial an operator's phone into the alert's bridge; the operator never ends it (R-24b)."""
    call_sid = _dial_in(alert, number, telephony, gateway, callbacks, ends_bridge=False)
    return _dialled_leg(session, alert, call_sid, LegRole.OPERATOR, user_id=user_id, clock=clock)


def operator_leave(
    session: Session, alert: Alert, *, telephony: Telephony, clock: Clock
) -> list[CallLeg]:
    """Take the operator out of the bridge, leaving caller and police talking (R-24 hand-over)."""
    legs = list(
        session.scalars(
            select(CallLeg).where(
                CallLeg.alert_id == alert.id,
                CallLeg.role == LegRole.OPERATOR,
                CallLeg.ended_at.is_(None),
            )
        )
    )
    for leg in legs:
        if leg.call_sid is None:
            continue
        try:
            if alert.conference_sid:
                telephony.remove_participant(alert.conference_sid, leg.call_sid)
            else:
                telephony.hang_up(leg.call_sid)  # not yet started: ending the leg is the same
        except TelephonyError as exc:
            raise Conflict(
                N_("L'opérateur n'a pas pu quitter la conférence : %(error)s"), error=str(exc)
            ) from None
        leg.ended_at = clock.now()
        leg.status = "left"
    session.flush()
    if legs:
        events.add_event(
            session,
            events.OPERATOR_LEFT,
            {"alert_id": alert.id, "legs": [leg.id for leg in legs]},
            territory_id=alert.territory_id,
            clock=clock,
        )
    return legs


def request_position(
    session: Session,
    line: Line,
    *,
    user_id: int | None = None,
    telephony: Telephony,
    gateway: GatewaySettings,
    clock: Clock,
) -> PositionRequest:
    """Send the terminal its position request (SMS command) and record it (R-28)."""
    try:
        sid = telephony.send_sms(
            to=line.msisdn, from_=gateway.alert_number, body=gateway.position_request_command
        )
    except TelephonyError as exc:
        raise Conflict(
            N_("La demande de position n'a pas pu être envoyée : %(error)s"), error=str(exc)
        ) from None
    alert = ongoing_alert_for_line(session, line.id)
    request = PositionRequest(
        line_id=line.id,
        alert_id=alert.id if alert else None,
        message_sid=sid,
        user_id=user_id,
        requested_at=clock.now(),
    )
    session.add(request)
    session.flush()
    events.add_event(
        session,
        events.POSITION_REQUESTED,
        {"line_id": line.id, "alert_id": request.alert_id, "request_id": request.id},
        territory_id=alert.territory_id if alert else None,
        clock=clock,
    )
    audit.record(
        session,
        actor=f"user:{user_id}" if user_id else "system:gateway",
        action="position.requested",
        object_type="line",
        object_id=line.id,
        clock=clock,
    )
    return request


def record_call_status(
    session: Session, call_sid: str, status: str, *, duration_s: int | None, clock: Clock
) -> None:
    """Record a leg's status from the carrier; the caller's end is announced to consoles."""
    leg = session.scalar(select(CallLeg).where(CallLeg.call_sid == call_sid))
    if leg is None:
        log.info("call status for an unknown leg ignored status=%s", status)
        return
    now = clock.now()
    leg.status = status[:24]
    if status == "in-progress" and leg.answered_at is None:
        leg.answered_at = now
    if status in ENDED_STATUSES and leg.ended_at is None:
        leg.ended_at = now
        leg.duration_s = duration_s
        if leg.role in (LegRole.CALLER, LegRole.CALLBACK):
            alert = session.get(Alert, leg.alert_id)
            if alert is not None:
                alert.ended_at = now
                events.add_event(
                    session,
                    events.ALERT_CALL_ENDED,
                    {"alert_id": alert.id, "leg_id": leg.id, "status": leg.status},
                    territory_id=alert.territory_id,
                    clock=clock,
                )
    session.flush()


def record_conference_event(
    session: Session,
    event: ConferenceEvent,
    *,
    telephony: Telephony,
    gateway: GatewaySettings,
    callbacks: Callbacks,
    cipher: Cipher,
    clock: Clock,
) -> None:
    """Follow the bridge; when it ends while the alert is open, call the terminal back (R-24b)."""
    alert = session.scalar(select(Alert).where(Alert.conference_name == event.friendly_name))
    if alert is None:
        log.info("conference event for an unknown bridge ignored event=%s", event.event)
        return
    now = clock.now()
    leg = None
    if event.call_sid:
        leg = session.scalar(select(CallLeg).where(CallLeg.call_sid == event.call_sid))
    if event.event == "conference-start":
        alert.conference_sid = event.conference_sid
    elif event.event == "participant-join" and leg is not None:
        leg.answered_at = leg.answered_at or now
        if leg.role in (LegRole.CALLER, LegRole.CALLBACK) and alert.answered_at is None:
            alert.answered_at = now
            events.add_event(
                session,
                events.ALERT_ANSWERED,
                {"alert_id": alert.id},
                territory_id=alert.territory_id,
                clock=clock,
            )
    elif event.event == "participant-leave" and leg is not None:
        leg.ended_at = leg.ended_at or now
    elif event.event == "conference-end" and alert.state != AlertState.CLOSED:
        _watchdog(
            session,
            alert,
            telephony=telephony,
            gateway=gateway,
            callbacks=callbacks,
            cipher=cipher,
            clock=clock,
        )
    session.flush()


def _watchdog(
    session: Session,
    alert: Alert,
    *,
    telephony: Telephony,
    gateway: GatewaySettings,
    callbacks: Callbacks,
    cipher: Cipher,
    clock: Clock,
) -> None:
    """R-24b: the bridge ended with the alert open: flag it and call the terminal back at once."""
    if alert.is_test or alert.is_canary:
        return  # a test call that ends is the normal case; no call-back
    alert.bridge_lost_at = clock.now()
    events.add_event(
        session,
        events.ALERT_BRIDGE_LOST,
        {"alert_id": alert.id, "callbacks": alert.callback_count},
        territory_id=alert.territory_id,
        clock=clock,
    )
    number = _terminal_number(session, alert, cipher=cipher)
    if number is None or alert.callback_count >= gateway.max_callbacks:
        log.warning(
            "alert=%s bridge lost, no call-back (number known=%s)", alert.id, number is not None
        )
        return
    try:
        call_sid = _dial_in(alert, number, telephony, gateway, callbacks, ends_bridge=True)
    except TelephonyError as exc:
        raise_supervisor_alarm(
            session, "callback_failed", {"alert_id": alert.id, "error": str(exc)}, clock=clock
        )
        return
    _record_callback(session, alert, call_sid, user_id=None, clock=clock)
    log.warning(
        "alert=%s bridge lost: terminal called back (attempt %s)", alert.id, alert.callback_count
    )


def call_back(
    session: Session,
    alert: Alert,
    *,
    user_id: int,
    telephony: Telephony,
    gateway: GatewaySettings,
    callbacks: Callbacks,
    cipher: Cipher,
    clock: Clock,
) -> CallLeg:
    """Call the person back into the alert's bridge at the operator's request (R-20, R-24)."""
    if alert.state == AlertState.CLOSED:
        raise Conflict(N_("L'alerte est close : rappelez depuis une nouvelle alerte."))
    number = _terminal_number(session, alert, cipher=cipher)
    if number is None:
        raise Conflict(N_("Numéro de l'appelant inconnu : rappel impossible."))
    try:
        call_sid = _dial_in(alert, number, telephony, gateway, callbacks, ends_bridge=True)
    except TelephonyError as exc:
        raise Conflict(N_("Le rappel n'a pas pu être passé : %(error)s"), error=str(exc)) from None
    return _record_callback(session, alert, call_sid, user_id=user_id, clock=clock)


def _dialled_leg(
    session: Session,
    alert: Alert,
    call_sid: str,
    role: LegRole,
    *,
    user_id: int | None = None,
    unit_id: int | None = None,
    clock: Clock,
) -> CallLeg:
    """Keep the leg of a call we just dialled into the alert's bridge (queued at the carrier)."""
    leg = CallLeg(
        alert_id=alert.id,
        call_sid=call_sid,
        role=role,
        user_id=user_id,
        unit_id=unit_id,
        status="queued",
        started_at=clock.now(),
    )
    session.add(leg)
    session.flush()
    return leg


def _record_callback(
    session: Session, alert: Alert, call_sid: str, *, user_id: int | None, clock: Clock
) -> CallLeg:
    """Count a call-back of the terminal, keep its leg and announce it (R-24b)."""
    alert.callback_count += 1
    leg = _dialled_leg(session, alert, call_sid, LegRole.CALLBACK, user_id=user_id, clock=clock)
    events.add_event(
        session,
        events.ALERT_CALLED_BACK,
        {"alert_id": alert.id, "attempt": alert.callback_count, "by_operator": user_id is not None},
        territory_id=alert.territory_id,
        clock=clock,
    )
    return leg


def _terminal_number(session: Session, alert: Alert, *, cipher: Cipher) -> str | None:
    if alert.line_id is not None:
        line = session.get(Line, alert.line_id)
        return line.msisdn if line else None
    if alert.caller_number_enc is None:
        return None
    return vault.get_text(session, cipher, alert, "caller_number_enc", key_id=alert.data_key_id)


def _dial_in(
    alert: Alert,
    number: str,
    telephony: Telephony,
    gateway: GatewaySettings,
    callbacks: Callbacks,
    *,
    ends_bridge: bool,
) -> str:
    # The opaque name joins the running bridge, or starts a new one after it ended (call-back).
    return telephony.add_participant(
        alert.conference_name,
        to=number,
        from_=gateway.alert_number,
        end_conference_on_exit=ends_bridge,
        status_callback=callbacks.call_status,
        conference_status_callback=callbacks.conference_status,
    )
