"""The bridge (R-24, R-24b, R-24d, R-26): calls into conferences, forces, hand-over, watchdog.

``receive_call`` answers every incoming call once (E-03): a terminal's call
opens an alert whose caller is put into an opaque conference (R-21, R-24); a
counter-call from a police or gendarmerie number joins the conference of that
unit's ongoing alert, or goes to the supervisors' line (R-26).

Every leg we dial is done in three steps, so that no carrier request is ever
made inside a write transaction and no call exists without its row (issue 13):

1. an intent (``dial_operator``, ``add_force``, ``call_back``, ``prepare_overflow``,
   the watchdog) records the leg ``dialling`` and returns a ``PendingDial``; the
   entry point commits it;
2. ``place`` asks the carrier, with no transaction open; the leg's id travels in
   the status-callback URL (``?leg=``) and in the participant's label, so the
   carrier's callbacks find the leg even if they arrive before step 3;
3. ``record_dial`` keeps the outcome in a new short transaction: the carrier's
   call id, or ``failed`` with the reason (``CallLeg.failure``).

``complete_dials`` does steps 2 and 3 for jobs and webhooks that own a
sessionmaker. Removing the operator (hand-over) follows the same pattern:
``operator_leave`` marks the legs ``leaving``, ``remove`` asks the carrier,
``record_removal`` keeps the outcome. Overflow legs have their own role and
survive the operator's hand-over. ``request_position`` asks a terminal for its
position by SMS (R-28), recorded first and dropped again if the SMS fails.
The carrier's status callbacks land in ``record_call_status`` and
``record_conference_event``; the latter is also the watchdog that calls the
terminal back when the bridge ends while the alert is still open (R-24b).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tgd.calls_first import let_calls_pass
from tgd.db.models.alerts import Alert, CallLeg
from tgd.db.models.forces import ForceUnit
from tgd.db.models.lines import Line
from tgd.db.models.positions import PositionRequest
from tgd.db.models.territories import Territory
from tgd.db.session import preload
from tgd.db.writes import Priority, write_transaction
from tgd.domain.alerts import AlertState, ForceKind, LegRole
from tgd.domain.errors import N_, Conflict, NotFound
from tgd.domain.labels import FailureKind
from tgd.ports import Cipher, Clock, Telephony, TelephonyError
from tgd.services import alert_rows, audit, events, leg_rows, vault
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
from tgd.services.restrictions import centre_numbers, route_outgoing_call
from tgd.settings import AlertSettings, GatewaySettings, RestrictionSettings

log = logging.getLogger(__name__)

NO_OUTBOUND = RestrictionSettings()  # terminals' calls to third parties are not routed through us
ENDED_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
DIALLING = "dialling"  # our own status: the leg is recorded, the carrier not yet asked
LEAVING = "leaving"  # our own status: the carrier is being asked to take the leg out
LEFT = "left"
LABEL_PREFIX = "leg-"  # the participant's label in the carrier's conference events
PARTICIPANT_EVENTS = frozenset({"participant-join", "participant-leave"})
DIAL_BATCH = 5  # dial outcomes recorded per write transaction (``complete_dials``)
# A live leg's statuses in the order a call goes through them. Twilio does not promise
# its status callbacks arrive in order: a "ringing" delivered after "in-progress" must
# not show a connected police officer as ringing again.
_LIVE_ORDER = {DIALLING: 0, "queued": 1, "initiated": 2, "ringing": 3, "in-progress": 4}


@dataclass(frozen=True)
class Callbacks:
    """The public URLs the carrier reports call and conference events to."""

    call_status: str
    conference_status: str

    def for_leg(self, leg_id: int) -> str:
        """Return the call-status URL of one leg: its id travels with every callback."""
        separator = "&" if "?" in self.call_status else "?"
        return f"{self.call_status}{separator}leg={leg_id}"


def carrier_callbacks(public_base_url: str) -> Callbacks:
    """Return the public URLs of the gateway's status callbacks, the one place they are built.

    The paths are the gateway's routes (``handset_gateway/views.py``); the base is the
    setting ``twilio.public_base_url``, as the carrier reaches it.
    """
    base = public_base_url.rstrip("/")
    return Callbacks(
        call_status=f"{base}/gateway/twilio/voice/status",
        conference_status=f"{base}/gateway/twilio/conference/status",
    )


@dataclass(frozen=True)
class PendingDial:
    """A leg recorded in the bridge, still to be placed at the carrier (after the commit)."""

    leg_id: int
    alert_id: int
    role: LegRole
    conference: str
    to: str
    ends_bridge: bool


@dataclass(frozen=True)
class DialResult:
    """What the carrier answered to one ``PendingDial``: a call id, or a failure code."""

    dial: PendingDial
    call_sid: str | None = None
    failure: str | None = None

    @property
    def failed(self) -> bool:
        """Tell whether the carrier did not take the call."""
        return self.call_sid is None


@dataclass(frozen=True)
class PendingRemoval:
    """A leg being taken out of the bridge (hand-over), still to be removed at the carrier."""

    leg_id: int
    alert_id: int
    call_sid: str
    conference_sid: str | None
    previous_status: str


@dataclass(frozen=True)
class RemovalResult:
    """What the carrier answered to one ``PendingRemoval``."""

    removal: PendingRemoval
    failure: str | None = None


@dataclass(frozen=True)
class ConferenceEvent:
    """One conference status callback from the carrier."""

    conference_sid: str
    friendly_name: str
    event: str  # conference-start, conference-end, participant-join, participant-leave…
    call_sid: str | None = None
    label: str | None = None  # the participant's label: ``leg-<id>`` for legs we dialled


@dataclass(frozen=True)
class PreparedCall:
    """What an incoming call's answer needs before anything is written (``prepare_call``).

    Made by the webhook's own thread, outside the gateway writer's batch: the writer can
    then claim the receipts of a batch of calls together (``alert_rows.claim_together``)
    before running their units.
    """

    call: IncomingCall  # with its bridge's name drawn (but a counter-call's)
    kind: CallKind
    centre: frozenset[str]  # the centre's own numbers (Annexe 2 I.1)
    expected: str | None  # the answer known before the write: the bridge's
    claim: alert_rows.IdentifyingClaim | None  # an alert's: claims, identifies, draws its id


def prepare_call(
    call: IncomingCall,
    *,
    render: Callable[[CallRoute], str],
    gateway: GatewaySettings,
    counter_call_number: str,
    restrictions: RestrictionSettings = NO_OUTBOUND,
) -> PreparedCall:
    """Classify an incoming call and draw its bridge and answer, with no database."""
    centre = centre_numbers(gateway, restrictions, counter_call_number)
    kind = classify(
        call,
        test_number=gateway.test_call_number,
        canary_number=gateway.canary_number,
        counter_number=counter_call_number,
        outgoing_enabled=restrictions.gateway_outbound,
        centre_numbers=centre,
    )

    # The bridge's name is drawn before anything is written, so its answer is known first:
    # the receipt is claimed with it (PostgreSQL: no second statement to fill it in).
    expected = None
    if kind != CallKind.COUNTER_CALL:
        call = replace(call, conference_name=call.conference_name or new_conference_name())
        expected = render(CallRoute(conference=call.conference_name))

    # An alert's caller is identified, and its id drawn, by the receipt's claim.
    claim = None
    if kind in (CallKind.ALERT, CallKind.TEST) and expected is not None:
        claim = alert_rows.IdentifyingClaim(
            call.from_number, key=receipt_key(call.call_sid), answer=expected
        )
    return PreparedCall(call=call, kind=kind, centre=centre, expected=expected, claim=claim)


def receipt_key(call_sid: str) -> str:
    """The key of an incoming call's webhook receipt (E-03)."""
    return f"voice:{call_sid}"


def receive_call(
    session: Session,
    call: IncomingCall,
    *,
    render: Callable[[CallRoute], str],
    gateway: GatewaySettings,
    alerts: AlertSettings,
    counter_call_number: str,
    restrictions: RestrictionSettings = NO_OUTBOUND,
    cipher: Cipher,
    clock: Clock,
    prepared: PreparedCall | None = None,
) -> str:
    """Record an incoming call once and return its rendered answer (R-21, E-03).

    ``prepared``: the call's ``prepare_call``, made before its unit (else made here).
    """
    if prepared is None:
        prepared = prepare_call(
            call,
            render=render,
            gateway=gateway,
            counter_call_number=counter_call_number,
            restrictions=restrictions,
        )
    call, kind, centre = prepared.call, prepared.kind, prepared.centre
    expected, claim = prepared.expected, prepared.claim

    def produce() -> str:
        if kind == CallKind.COUNTER_CALL:
            return render(
                route_counter_call(session, call, gateway=gateway, alerts=alerts, clock=clock)
            )
        if kind == CallKind.OUTGOING:
            # Annexe 2 I.1: put through what the allow-list permits, else non-compliant use.
            route = route_outgoing_call(
                session,
                call,
                gateway=gateway,
                restrictions=restrictions,
                centre=centre,
                cipher=cipher,
                clock=clock,
            )
            if route is not None:
                return render(route)
        alert_kind = CallKind.ALERT if kind == CallKind.OUTGOING else kind
        caller = claim.found if claim is not None else None
        alert = open_alert(
            session, call, kind=alert_kind, cipher=cipher, clock=clock, caller=caller
        )
        if expected is not None and alert.conference_name == call.conference_name:
            return expected
        return render(CallRoute(conference=alert.conference_name, alert_id=alert.id))

    body, _ = answer_once(
        session, receipt_key(call.call_sid), produce, clock=clock, expected=expected, claim=claim
    )
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


def _leg_event(session: Session, leg: CallLeg, alert: Alert, *, clock: Clock) -> None:
    """Tell the consoles that a leg of the bridge changed (ids and codes only)."""
    events.add_all(session, [_leg_event_values(leg, alert.id, alert.territory_id, clock=clock)])


def _leg_event_values(
    leg: CallLeg | leg_rows.LegState, alert_id: int, territory_id: int | None, *, clock: Clock
) -> dict[str, Any]:
    return events.event_values(
        events.LEG_UPDATED,
        {
            "alert_id": alert_id,
            "leg_id": leg.id,
            "role": leg.role.value,
            "status": leg.status,
            "user_id": leg.user_id,
        },
        territory_id=territory_id,
        clock=clock,
    )


def _intent(
    session: Session,
    alert: Alert,
    role: LegRole,
    *,
    to: str,
    ends_bridge: bool = False,
    user_id: int | None = None,
    unit_id: int | None = None,
    clock: Clock,
) -> PendingDial:
    """Record a leg we are about to dial (``dialling``); the caller commits, then places it."""
    leg = _new_leg(alert, role, user_id=user_id, unit_id=unit_id, clock=clock)
    session.add(leg)
    session.flush()
    _leg_event(session, leg, alert, clock=clock)
    return PendingDial(leg.id, alert.id, role, alert.conference_name, to, ends_bridge)


def _new_leg(
    alert: Alert,
    role: LegRole,
    *,
    user_id: int | None = None,
    unit_id: int | None = None,
    clock: Clock,
) -> CallLeg:
    return CallLeg(
        alert_id=alert.id,
        role=role,
        user_id=user_id,
        unit_id=unit_id,
        status=DIALLING,
        started_at=clock.now(),
    )


def dial_operator(
    session: Session, alert: Alert, *, user_id: int, line: str, clock: Clock
) -> PendingDial:
    """R-24d: record the operator's audio line as a leg of the bridge, to dial at once.

    The operator never ends the bridge (R-24b). An open leg of the same operator is
    not dialled twice.
    """
    if alert.state == AlertState.CLOSED:
        raise Conflict(N_("L'alerte est close : votre ligne n'est plus appelée."))
    if open_operator_legs(session, alert, user_id=user_id):
        raise Conflict(N_("Votre ligne audio est déjà dans le pont de cette alerte."))
    return _intent(session, alert, LegRole.OPERATOR, to=line, user_id=user_id, clock=clock)


def redial_operator(
    session: Session, alert: Alert, *, user_id: int, line: str, clock: Clock
) -> PendingDial:
    """Dial the operator's audio line again (after a failure, or after hanging up); audited.

    The caller has checked that the operator holds the alert.
    """
    pending = dial_operator(session, alert, user_id=user_id, line=line, clock=clock)
    audit.record(
        session,
        actor=f"user:{user_id}",
        action="alert.operator_redial",
        object_type="alert",
        object_id=alert.id,
        clock=clock,
    )
    return pending


def open_operator_legs(session: Session, alert: Alert, *, user_id: int) -> list[CallLeg]:
    """Return the operator's legs of this alert that are not over (dialling, ringing, in line)."""
    return list(
        session.scalars(
            select(CallLeg).where(
                CallLeg.alert_id == alert.id,
                CallLeg.role == LegRole.OPERATOR,
                CallLeg.user_id == user_id,
                CallLeg.ended_at.is_(None),
            )
        )
    )


def get_active_unit(session: Session, unit_id: int | None) -> ForceUnit:
    """Fetch a unit the operator may dial (R-24), or raise ``NotFound``."""
    unit = session.get(ForceUnit, unit_id) if unit_id is not None else None
    if unit is None or not unit.is_active:
        raise NotFound(N_("Unité inconnue."))
    return unit


def add_force(
    session: Session, alert: Alert, unit: ForceUnit, *, user_id: int, clock: Clock
) -> PendingDial:
    """R-24: record the unit's priority line as a leg of the bridge (three-way dialogue)."""
    if alert.state == AlertState.CLOSED:
        raise Conflict(N_("L'alerte est close : impossible d'y ajouter les forces de l'ordre."))
    pending = _intent(
        session, alert, LegRole.POLICE, to=unit.priority_number, unit_id=unit.id, clock=clock
    )
    audit.record(
        session,
        actor=f"user:{user_id}",
        action="alert.add_force",
        object_type="alert",
        object_id=alert.id,
        details={"unit_id": unit.id},
        clock=clock,
    )
    return pending


def prepare_overflow(session: Session, alert: Alert, *, number: str, clock: Clock) -> PendingDial:
    """R-23b: record the backup centre's leg of an unclaimed alert (role ``overflow``).

    Call it in the transaction that marks the alert overflowed, commit, then
    ``complete_dials`` (or ``place`` and ``record_dial``). The overflow leg survives an
    operator's hand-over: only ``operator`` legs leave with the operator.
    """
    return prepare_overflows(session, [(alert, number)], clock=clock)[0]


def prepare_overflows(
    session: Session, targets: Sequence[tuple[Alert, str]], *, clock: Clock
) -> list[PendingDial]:
    """``prepare_overflow`` for a batch of alerts: their legs inserted in one flush."""
    legs = [_new_leg(alert, LegRole.OVERFLOW, clock=clock) for alert, _number in targets]
    session.add_all(legs)
    session.flush()
    pairs = list(zip(legs, targets, strict=True))
    events.insert_all(  # one statement for the batch's events (it holds the write gate)
        session,
        [
            _leg_event_values(leg, alert.id, alert.territory_id, clock=clock)
            for leg, (alert, _n) in pairs
        ],
    )
    return [
        PendingDial(leg.id, alert.id, LegRole.OVERFLOW, alert.conference_name, number, False)
        for leg, (alert, number) in pairs
    ]


def call_back(
    session: Session, alert: Alert, *, user_id: int, cipher: Cipher, clock: Clock
) -> PendingDial:
    """Record a call-back of the person into the alert's bridge (R-20, R-24b), to dial at once."""
    if alert.state == AlertState.CLOSED:
        raise Conflict(N_("L'alerte est close : rappelez depuis une nouvelle alerte."))
    number = _terminal_number(session, alert, cipher=cipher)
    if number is None:
        raise Conflict(N_("Numéro de l'appelant inconnu : rappel impossible."))
    pending = _record_callback(session, alert, number, user_id=user_id, clock=clock)
    audit.record(
        session,
        actor=f"user:{user_id}",
        action="alert.call_back",
        object_type="alert",
        object_id=alert.id,
        clock=clock,
    )
    return pending


def place(
    dial: PendingDial, *, telephony: Telephony, gateway: GatewaySettings, callbacks: Callbacks
) -> DialResult:
    """Ask the carrier to dial a recorded leg into its bridge; never inside a transaction."""
    try:
        call_sid = telephony.add_participant(
            dial.conference,  # the opaque name joins the running bridge, or starts it again
            to=dial.to,
            from_=gateway.alert_number,
            end_conference_on_exit=dial.ends_bridge,
            status_callback=callbacks.for_leg(dial.leg_id),
            conference_status_callback=callbacks.conference_status,
            label=f"{LABEL_PREFIX}{dial.leg_id}",
        )
    except TelephonyError as exc:
        log.warning("leg=%s role=%s not placed: %s", dial.leg_id, dial.role.value, exc)
        return DialResult(dial, failure=exc.code)
    return DialResult(dial, call_sid=call_sid)


def record_dial(session: Session, result: DialResult, *, clock: Clock) -> CallLeg:
    """Keep what the carrier answered: the leg's call id, or ``failed`` and why.

    A status callback may have come first (it finds the leg by the id in its URL): its
    later status is kept. A leg taken out while it was being dialled (hand-over) keeps
    ``canceled``; the caller then hangs the new call up.
    """
    leg, announced = _apply_dial(session, result, clock=clock)
    session.flush()
    events.add_all(session, announced)
    return leg


def record_dials(session: Session, results: Sequence[DialResult], *, clock: Clock) -> list[CallLeg]:
    """``record_dial`` for a batch: one flush for its legs, one statement for its events.

    A pass's dial records hold the write gate (``complete_dials``); an ORM object per event
    and a flush per leg cost more CPU than the writes.
    """
    applied = [_apply_dial(session, result, clock=clock) for result in results]
    session.flush()
    events.insert_all(session, [values for _leg, announced in applied for values in announced])
    return [leg for leg, _announced in applied]


def _apply_dial(
    session: Session, result: DialResult, *, clock: Clock
) -> tuple[CallLeg, list[dict[str, Any]]]:
    """Change the leg (and its alert) as the carrier answered; return the events to add."""
    leg = session.get(CallLeg, result.dial.leg_id)
    if leg is None:
        raise LookupError(f"leg {result.dial.leg_id} vanished")
    alert = session.get(Alert, leg.alert_id)
    assert alert is not None
    now = clock.now()
    announced = []
    if result.call_sid is not None:
        leg.call_sid = leg.call_sid or result.call_sid
        if leg.status == DIALLING:
            leg.status = "queued"
        if leg.role == LegRole.POLICE:
            alert.unit_id = leg.unit_id
            alert.police_called_at = alert.police_called_at or now  # answer-to-police
            announced.append(
                events.event_values(
                    events.FORCE_ADDED,
                    {"alert_id": alert.id, "unit_id": leg.unit_id, "leg_id": leg.id},
                    territory_id=alert.territory_id,
                    clock=clock,
                )
            )
    else:
        leg.status = "failed"
        leg.failure = (result.failure or FailureKind.FAILED)[:200]
        leg.ended_at = leg.ended_at or now
    announced.append(_leg_event_values(leg, alert.id, alert.territory_id, clock=clock))
    return leg, announced


def must_hang_up(leg: CallLeg) -> bool:
    """Tell whether a leg placed at the carrier was meanwhile cancelled (hang it up)."""
    return leg.status == "canceled" and leg.call_sid is not None


def complete_dials(
    sessions: sessionmaker[Session],
    dials: Sequence[PendingDial],
    *,
    telephony: Telephony,
    gateway: GatewaySettings,
    callbacks: Callbacks,
    clock: Clock,
) -> list[CallLeg]:
    """Place committed dials at the carrier, then record their outcomes in short transactions.

    For jobs and webhooks (no request session): call it after the commit of the intents.
    ``DIAL_BATCH`` dials are placed, then recorded in one transaction, then the next ones:
    an escalation pass that overflows fifty alerts held the write gate 50–116 ms in one
    transaction (SQLite), and every webhook of that moment waited behind it.
    """
    legs: list[CallLeg] = []
    for start in range(0, len(dials), DIAL_BATCH):
        chunk = dials[start : start + DIAL_BATCH]
        let_calls_pass()  # an escalation pass's dials step aside for incoming calls
        results = [
            place(d, telephony=telephony, gateway=gateway, callbacks=callbacks) for d in chunk
        ]
        legs.extend(_record_dials(sessions, results, clock=clock))
    for leg in legs:
        if must_hang_up(leg):
            hang_up_quietly(telephony, leg)
    return legs


def _record_dials(
    sessions: sessionmaker[Session], results: list[DialResult], *, clock: Clock
) -> list[CallLeg]:
    with write_transaction(sessions, priority=Priority.PEOPLE, label="dial") as session:
        preload(session, CallLeg, (r.dial.leg_id for r in results))
        preload(session, Alert, (r.dial.alert_id for r in results))
        legs = record_dials(session, results, clock=clock)
        for result in results:
            if result.failed and result.dial.role == LegRole.CALLBACK:
                raise_supervisor_alarm(
                    session,
                    "callback_failed",
                    {"alert_id": result.dial.alert_id, "error": result.failure or ""},
                    clock=clock,
                )
    return legs


def hang_up_quietly(telephony: Telephony, leg: CallLeg) -> None:
    """Compensate: end a call the carrier placed for a leg that is no longer wanted."""
    if leg.call_sid is None:
        return
    try:
        telephony.hang_up(leg.call_sid)
    except TelephonyError as exc:
        log.error("leg=%s cancelled but could not be hung up: %s", leg.id, exc)


def operator_leave(
    session: Session, alert: Alert, *, user_id: int, clock: Clock
) -> list[PendingRemoval]:
    """R-24 hand-over: mark the operator's own legs ``leaving``; the others stay in the bridge.

    Legs not yet placed at the carrier are cancelled at once; the others are returned to
    be removed after the commit (``remove``, then ``record_removal``). Overflow and police
    legs are never touched.
    """
    removals = []
    now = clock.now()
    for leg in open_operator_legs(session, alert, user_id=user_id):
        if leg.call_sid is None:
            leg.status, leg.ended_at = "canceled", now
            _leg_event(session, leg, alert, clock=clock)
            continue
        if leg.status == LEAVING:
            continue
        removals.append(
            PendingRemoval(leg.id, alert.id, leg.call_sid, alert.conference_sid, leg.status)
        )
        leg.status = LEAVING
        _leg_event(session, leg, alert, clock=clock)
    session.flush()
    audit.record(
        session,
        actor=f"user:{user_id}",
        action="alert.operator_leave",
        object_type="alert",
        object_id=alert.id,
        details={"legs": len(removals)},
        clock=clock,
    )
    return removals


def remove(removal: PendingRemoval, *, telephony: Telephony) -> RemovalResult:
    """Ask the carrier to take one leg out of the bridge; never inside a transaction."""
    try:
        if removal.conference_sid:
            telephony.remove_participant(removal.conference_sid, removal.call_sid)
        else:
            telephony.hang_up(removal.call_sid)  # the bridge has not started: end the call
    except TelephonyError as exc:
        log.warning("leg=%s not removed: %s", removal.leg_id, exc)
        return RemovalResult(removal, failure=exc.code)
    return RemovalResult(removal)


def record_removal(session: Session, result: RemovalResult, *, clock: Clock) -> CallLeg:
    """Keep the outcome of a removal: ``left``, or the leg back as it was with the reason."""
    leg = session.get(CallLeg, result.removal.leg_id)
    alert = session.get(Alert, result.removal.alert_id)
    if leg is None or alert is None:
        raise LookupError(f"leg {result.removal.leg_id} vanished")
    if result.failure is None:
        leg.status = LEFT
        leg.ended_at = leg.ended_at or clock.now()
        events.add_event(
            session,
            events.OPERATOR_LEFT,
            {"alert_id": alert.id, "legs": [leg.id]},
            territory_id=alert.territory_id,
            clock=clock,
        )
    elif leg.status == LEAVING:
        leg.status = result.removal.previous_status
        leg.failure = result.failure[:200]
    session.flush()
    _leg_event(session, leg, alert, clock=clock)
    return leg


def request_position(
    session: Session,
    line: Line,
    *,
    user_id: int | None = None,
    clock: Clock,
) -> PositionRequest:
    """Record a position request to the terminal (R-28); ``send_position_request`` sends it."""
    alert = ongoing_alert_for_line(session, line.id)
    request = PositionRequest(
        line_id=line.id,
        alert_id=alert.id if alert else None,
        user_id=user_id,
        requested_at=clock.now(),
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=f"user:{user_id}" if user_id else "system:gateway",
        action="position.requested",
        object_type="line",
        object_id=line.id,
        details={"alert_id": request.alert_id},  # the alert it was asked for, if any
        clock=clock,
    )
    return request


def send_position_request(
    to: str, *, telephony: Telephony, gateway: GatewaySettings
) -> tuple[str | None, str | None]:
    """Send the SMS command (never inside a transaction); return (message id, failure code)."""
    try:
        return telephony.send_sms(
            to=to, from_=gateway.alert_number, body=gateway.position_request_command
        ), None
    except TelephonyError as exc:
        return None, exc.code


def record_position_request(
    session: Session, request_id: int, message_sid: str | None, *, clock: Clock
) -> PositionRequest | None:
    """Keep the SMS id and announce the request; without one, drop the request (compensate)."""
    request = session.get(PositionRequest, request_id)
    if request is None:
        return None
    if message_sid is None:
        session.delete(request)
        session.flush()
        return None
    request.message_sid = message_sid
    alert = session.get(Alert, request.alert_id) if request.alert_id else None
    session.flush()
    events.add_event(
        session,
        events.POSITION_REQUESTED,
        {"line_id": request.line_id, "alert_id": request.alert_id, "request_id": request.id},
        territory_id=alert.territory_id if alert else None,
        clock=clock,
    )
    return request


def record_call_status(
    session: Session,
    call_sid: str,
    status: str,
    *,
    duration_s: int | None,
    clock: Clock,
    leg_id: int | None = None,
) -> None:
    """Record a leg's status from the carrier; the caller's end is announced to consoles.

    ``leg_id`` comes from the callback URL of a leg we dialled (``Callbacks.for_leg``): it
    finds the leg even before ``record_dial`` has kept its call id.
    Idempotent by itself (E-03, no receipt needed): a leg's status never moves back, its
    end is recorded once, and a status that changes nothing tells no console anything,
    so the carrier's repeated or late callbacks change nothing.
    """
    leg = leg_rows.leg_state(session, call_sid, leg_id=leg_id)
    if leg is None:
        log.info("call status for an unknown leg ignored status=%s", status)
        return
    before, now = replace(leg), clock.now()
    leg.call_sid = leg.call_sid or call_sid
    if _is_late(leg, status):
        leg_rows.save_leg(session, leg, before)  # the call id learnt, nothing else
        return
    if leg.status != LEAVING or status in ENDED_STATUSES:
        leg.status = status[:24]
    if status == "in-progress" and leg.answered_at is None:
        leg.answered_at = now
        leg.failure = None
    if status in ("busy", "no-answer", "failed") and leg.failure is None:
        leg.failure = status
    ended_now = status in ENDED_STATUSES and leg.ended_at is None
    if ended_now:
        leg.ended_at = now
        leg.duration_s = duration_s
    leg_rows.save_leg(session, leg, before)
    announced: list[dict[str, Any]] = []
    if ended_now and leg.role in (LegRole.CALLER, LegRole.CALLBACK):
        leg_rows.end_alert_call(session, leg.alert_id, now)
        announced.append(
            events.event_values(
                events.ALERT_CALL_ENDED,
                {"alert_id": leg.alert_id, "leg_id": leg.id, "status": leg.status},
                territory_id=leg.territory_id,
                clock=clock,
            )
        )
    if leg.role != LegRole.CALLER and (leg.status, leg.failure) != (before.status, before.failure):
        announced.append(_leg_event_values(leg, leg.alert_id, leg.territory_id, clock=clock))
    events.insert_all(session, announced)


def _is_late(leg: CallLeg | leg_rows.LegState, status: str) -> bool:
    """Tell whether a status arrived after a later one (out-of-order callbacks).

    A call ends once: after its end (``busy``, ``no-answer``, ``completed``…) another end
    changes nothing, so the leg keeps the reason the console showed.
    """
    if status in ENDED_STATUSES:
        return leg.ended_at is not None and leg.status in ENDED_STATUSES
    if leg.ended_at is not None or leg.status in (LEFT, "canceled"):
        return True  # over, left or cancelled: a late "ringing" changes nothing
    current = _LIVE_ORDER.get(leg.status)
    arrived = _LIVE_ORDER.get(status)
    return current is not None and arrived is not None and arrived < current


def _participant_leg(session: Session, event: ConferenceEvent) -> leg_rows.LegState | None:
    return leg_rows.leg_state(
        session, event.call_sid, leg_id=_labelled_leg_id(event.label), call_sid_first=True
    )


def record_conference_event(
    session: Session,
    event: ConferenceEvent,
    *,
    gateway: GatewaySettings,
    cipher: Cipher,
    clock: Clock,
) -> list[PendingDial]:
    """Follow the bridge; when it ends while the alert is open, call the terminal back (R-24b).

    A repeated start, join or leave changes nothing (E-03); a repeated end would call the
    terminal back again, so the webhook keeps a receipt for the end.

    Returns the call-backs to place once this transaction is committed (``complete_dials``).
    """
    if event.event in PARTICIPANT_EVENTS:
        _record_participant(session, event, clock=clock)
        return []
    alert = session.scalar(select(Alert).where(Alert.conference_name == event.friendly_name))
    if alert is None:
        log.info("conference event for an unknown bridge ignored event=%s", event.event)
        return []
    leg = _participant_leg(session, event)
    if leg is not None and leg.call_sid is None and event.call_sid:
        leg_rows.save_leg(session, replace(leg, call_sid=event.call_sid), leg)  # its call id
    dials: list[PendingDial] = []
    if event.event == "conference-start":
        alert.conference_sid = event.conference_sid
    elif event.event == "conference-end" and alert.state != AlertState.CLOSED:
        dials = _watchdog(session, alert, gateway=gateway, cipher=cipher, clock=clock)
    session.flush()
    return dials


def _record_participant(session: Session, event: ConferenceEvent, *, clock: Clock) -> None:
    """A leg joined or left the bridge: as columns (``leg_rows``), one per participant."""
    bridge = leg_rows.bridge_of(session, event.friendly_name)
    if bridge is None:
        log.info("conference event for an unknown bridge ignored event=%s", event.event)
        return
    leg = _participant_leg(session, event)
    if leg is None:
        return
    before, now = replace(leg), clock.now()
    leg.call_sid = leg.call_sid or event.call_sid
    announced: list[dict[str, Any]] = []
    if event.event == "participant-leave":
        leg.ended_at = leg.ended_at or now
    else:
        leg.answered_at = leg.answered_at or now
        if leg.role in (LegRole.CALLER, LegRole.CALLBACK) and bridge.answered_at is None:
            leg_rows.answer_alert(session, bridge.id, now)
            announced.append(
                events.event_values(
                    events.ALERT_ANSWERED,
                    {"alert_id": bridge.id},
                    territory_id=bridge.territory_id,
                    clock=clock,
                )
            )
        elif (
            leg.role != LegRole.CALLER
            and leg.status != LEAVING
            and not _is_late(leg, "in-progress")
        ):
            leg.status, leg.failure = "in-progress", None
            if (leg.status, leg.failure) != (before.status, before.failure):
                # Its "in-progress" callback, when it came first, told the consoles already.
                announced.append(
                    _leg_event_values(leg, bridge.id, bridge.territory_id, clock=clock)
                )
    leg_rows.save_leg(session, leg, before)
    events.insert_all(session, announced)


def _labelled_leg_id(label: str | None) -> int | None:
    """The leg id a participant's label carries (``leg-<id>``, set when we dialled it)."""
    if not label or not label.startswith(LABEL_PREFIX):
        return None
    number = label[len(LABEL_PREFIX) :]
    return int(number) if number.isdigit() else None


def _watchdog(
    session: Session, alert: Alert, *, gateway: GatewaySettings, cipher: Cipher, clock: Clock
) -> list[PendingDial]:
    """R-24b: the bridge ended with the alert open: flag it and call the terminal back at once."""
    if alert.is_test or alert.is_canary:
        return []  # a test call that ends is the normal case; no call-back
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
        return []
    dial = _record_callback(session, alert, number, user_id=None, clock=clock)
    log.warning(
        "alert=%s bridge lost: terminal called back (attempt %s)", alert.id, alert.callback_count
    )
    return [dial]


def _record_callback(
    session: Session, alert: Alert, number: str, *, user_id: int | None, clock: Clock
) -> PendingDial:
    """Count a call-back of the terminal, record its leg and announce it (R-24b)."""
    alert.callback_count += 1
    dial = _intent(
        session,
        alert,
        LegRole.CALLBACK,
        to=number,
        ends_bridge=True,
        user_id=user_id,
        clock=clock,
    )
    events.add_event(
        session,
        events.ALERT_CALLED_BACK,
        {"alert_id": alert.id, "attempt": alert.callback_count, "by_operator": user_id is not None},
        territory_id=alert.territory_id,
        clock=clock,
    )
    return dial


def _terminal_number(session: Session, alert: Alert, *, cipher: Cipher) -> str | None:
    if alert.line_id is not None:
        line = session.get(Line, alert.line_id)
        return line.msisdn if line else None
    if alert.caller_number_enc is None:
        return None
    return vault.get_text(session, cipher, alert, "caller_number_enc", key_id=alert.data_key_id)


def legs_with_units(session: Session, alert: Alert) -> list[tuple[CallLeg, ForceUnit | None]]:
    """Return the legs of an alert's bridge in order, each with its unit (if any)."""
    rows = session.execute(
        select(CallLeg, ForceUnit)
        .outerjoin(ForceUnit, ForceUnit.id == CallLeg.unit_id)
        .where(CallLeg.alert_id == alert.id)
        .order_by(CallLeg.id)
    )
    return [(leg, unit) for leg, unit in rows]


def leg_role_code(leg: CallLeg, unit_kind: ForceKind | None) -> str:
    """Return the public role of a leg (DESIGN §10): a call-back is the caller's leg again,
    a police leg is ``gendarmerie`` when the unit is one."""
    if leg.role == LegRole.CALLBACK:
        return LegRole.CALLER.value
    if leg.role == LegRole.POLICE and unit_kind == ForceKind.GENDARMERIE:
        return "gendarmerie"
    return leg.role.value
