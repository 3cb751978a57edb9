"""Use cases of alerts: receiving a terminal's call (R-20..R-22), listing them (DESIGN §10).

``receive_call`` is the heart of the gateway: it identifies the caller's line
and file from the number alone (R-20), records the alert, its caller leg, a
console event (E-02) and an audit entry, and returns the answer the door
renders, all under one idempotency key (E-03) so that a repeated delivery of
the same ``CallSid`` returns the first answer and creates nothing new (R-21).
Unknown or withheld numbers are still alerts (R-22). Counter-calls from
police units are routed to their ongoing alert (R-26, see ``dispatch``).
"""

from __future__ import annotations

import enum
import logging
import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import phonenumbers
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from tgd.adapters.crypto import WrappedKey
from tgd.db import batch_rows
from tgd.db.models.alerts import Alert, CallLeg, WebhookReceipt
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.lines import Line, LineAssignment
from tgd.db.writes import excludes_other_writers
from tgd.domain.alerts import AlertNature, AlertState, LegRole
from tgd.domain.restrictions import Channel
from tgd.ports import Cipher, Clock
from tgd.services import alert_rows, audit, commissioning, events, vault

log = logging.getLogger(__name__)

# R-27, report table 9: the cause recorded for a refused call or SMS (Annexe 2 I.1).
REFUSED_CAUSES = {
    Channel.VOICE: "appel vers un numéro hors de la liste autorisée de la ligne",
    Channel.SMS: "SMS vers un numéro hors de la liste autorisée de la ligne (non transmis)",
}

# What carriers put in From when the caller hides the number (Twilio uses these).
WITHHELD = frozenset(
    {"", "anonymous", "restricted", "unknown", "private", "unavailable", "+266696687"}
)


class CallKind(enum.StrEnum):
    """What an incoming call to the centre is."""

    ALERT = "alert"
    TEST = "test"  # the terminal's test key dials the test number (R-30, R-11 step 3)
    CANARY = "canary"  # R-24c
    COUNTER_CALL = "counter_call"
    # Annexe 2 I.1: a terminal's call to a third party that the carrier routes through us
    # (only with [restrictions] gateway_outbound); see ``services.restrictions``.
    OUTGOING = "outgoing"


@dataclass(frozen=True)
class IncomingCall:
    """An incoming call as the carrier describes it; numbers already in E.164 or None."""

    call_sid: str
    from_number: str | None
    to_number: str | None
    # A call answered while the database took no writes, recorded later from the spool:
    # the bridge it was put into, and when it rang.
    conference_name: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class CallRoute:
    """Where the door sends a call: into a bridge (conference) or on to a number."""

    conference: str | None = None
    end_conference_on_exit: bool = True  # R-24b: only the caller's leg ends the bridge
    dial: str | None = None
    alert_id: int | None = None
    caller_id: str | None = None  # the caller id shown when dialling on (None: the carrier's)


# A French number as the carrier sends it (E.164: +33 then nine digits, the first not 0),
# which ``phonenumbers`` would return unchanged: taken as it is, without the library's
# parse (33 µs, twice per webhook: 2.5 % of the process's CPU under a burst). Checked
# against the library in tests/unit/gateway/test_twiml.py.
_FRENCH_E164 = re.compile(r"\+33[1-9][0-9]{8}")


def normalise_number(raw: str | None) -> str | None:
    """Return a carrier number in E.164, or None when withheld or unreadable (R-22)."""
    text = (raw or "").strip()
    if _FRENCH_E164.fullmatch(text):
        return text
    if text.lower() in WITHHELD or text.startswith("client:") or text.startswith("sip:"):
        return None
    try:
        number = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def new_conference_name() -> str:
    """Return an opaque conference name: never a number or a name (R-24b, carrier logs)."""
    return "tgd-" + secrets.token_hex(12)


# Claims a webhook's receipt (parameters ``key``, ``body``, ``at``): its id, or None when
# another delivery of the webhook claimed it first.
Claim = Callable[[Session, dict[str, Any]], int | None]


def answer_once(
    session: Session,
    key: str,
    produce: Callable[[], str],
    *,
    clock: Clock,
    expected: str | None = None,
    claim: Claim | None = None,
) -> tuple[str, bool]:
    """Return the first answer stored under ``key``, or produce, store and return a new one (E-03).

    The receipt's key is claimed first (``INSERT … ON CONFLICT DO NOTHING RETURNING``, on
    PostgreSQL and SQLite alike); a second delivery's claim waits for the first's
    transaction, then reads its answer. One statement per webhook when the caller knows
    the answer before producing it (``expected``): the key is claimed with it, and filled
    in again only if ``produce`` answered otherwise. A look-up then an insert took two,
    each a round trip on PostgreSQL and about 0.1 ms of a voice unit's CPU on SQLite.
    ``claim`` claims it instead of ``alert_rows.receipt_claim`` (PostgreSQL:
    ``alert_rows.IdentifyingClaim``, which identifies the caller in the same round trip).
    The boolean tells whether this call produced the answer.
    """
    params: dict[str, Any] = {"key": key, "body": expected or "", "at": clock.now()}
    receipt_id = (claim or _claim)(session, params)
    if receipt_id is None:  # answered before (committed, or committed while we waited)
        found = _receipt(session, key)
        if found is None:  # the receipt went between the two statements (retention)
            raise LookupError(f"webhook receipt {key!r} claimed by another and gone")
        return found, False
    body = produce()
    if body != params["body"]:
        session.connection().execute(_FILL_RECEIPT, {"receipt_id": receipt_id, "answer": body})
    return body, True


def _claim(session: Session, params: dict[str, Any]) -> int | None:
    statement = alert_rows.receipt_claim(session)
    return session.connection().execute(statement, params).scalar()


_FILL_RECEIPT = (
    update(cast(Table, WebhookReceipt.__table__))
    .where(WebhookReceipt.id == bindparam("receipt_id"))
    .values(response_body=bindparam("answer"))
)


# Built once, like ``_IDENTIFY``: a repeated webhook's answer.
_RECEIPT = select(WebhookReceipt.response_body).where(WebhookReceipt.key == bindparam("key"))


def _receipt(session: Session, key: str) -> str | None:
    # On the unit's connection, not through the session: no autoflush, no ORM execution
    # (a quarter of a voice unit's CPU on SQLite went there). Receipts are written by
    # statements too, never left pending in the session, so the look-up sees them all.
    return session.connection().execute(_RECEIPT, {"key": key}).scalar()


def classify(
    call: IncomingCall,
    *,
    test_number: str,
    canary_number: str,
    counter_number: str,
    outgoing_enabled: bool = False,
    centre_numbers: Collection[str] = (),
) -> CallKind:
    """Tell an alert from a test call, a canary, a counter-call and a call to a third party."""
    if counter_number and call.to_number == counter_number:
        return CallKind.COUNTER_CALL
    if canary_number and call.from_number == canary_number:
        return CallKind.CANARY
    if test_number and call.to_number == test_number:
        return CallKind.TEST
    if outgoing_enabled and call.to_number is not None and call.to_number not in centre_numbers:
        return CallKind.OUTGOING  # Annexe 2 I.1: a number that is not the centre's
    return CallKind.ALERT


def open_alert(
    session: Session,
    call: IncomingCall,
    *,
    kind: CallKind,
    cipher: Cipher,
    clock: Clock,
    refused: Channel | None = None,
    caller: alert_rows.Identified | None = None,
) -> Alert:
    """Record an incoming terminal call as an alert with its caller leg, and announce it.

    ``refused`` marks a terminal's call or SMS to a number outside its line's allow-list
    (Annexe 2 I.1): the alert is of nature « non conforme » with its cause, and keeps the
    number dialled, encrypted.

    The alert's rows (the alert, its leg, its event, its audit entry) are the gateway's hot
    path: its id drawn as its caller is identified (``caller``: by the webhook's receipt
    claim, ``alert_rows.IdentifyingClaim``; PostgreSQL can draw without a claim), then on
    PostgreSQL one statement, on SQLite statements built once that a gateway batch makes
    together for its calls (``alert_rows.insert_at_once``, docs/gateway.md). Otherwise
    (a refused call, a canary, SQLite without a claim) statements built once, one by one.
    """
    rang = call.received_at or clock.now()
    drawn: int | None = None
    found: alert_rows.Caller | None
    if kind == CallKind.CANARY:
        found = None
    elif refused is None and (caller is not None or alert_rows.draws_ids(session)):
        drawn, found = caller or alert_rows.identify_drawing_id(session, call.from_number)
    else:
        found = alert_rows.identify_caller(session, call.from_number)
    key: WrappedKey | None
    key_row: dict[str, Any] | None = None
    data_key_id: int | None
    if drawn is not None and found is None:  # its key goes in with the alert's rows
        key, key_row = vault.new_key(cipher, purpose="alert", clock=clock)
        data_key_id = None
    else:
        key, data_key_id = _data_key(session, kind, found, cipher=cipher, clock=clock)
    values = dict(
        id=drawn,
        call_sid=call.call_sid,
        territory_id=found.territory_id if found else None,
        line_id=found.line_id if found else None,
        assignment_id=found.assignment_id if found else None,
        file_id=found.file_id if found else None,
        reference=found.reference if found else None,
        data_key_id=data_key_id,
        conference_name=call.conference_name or new_conference_name(),
        state=AlertState.RINGING,
        nature=_nature(kind, refused),
        # Annexe 2 I.1: a call or SMS outside the line's allow-list, and why.
        non_compliance_cause=REFUSED_CAUSES[refused] if refused is not None else None,
        restricted_channel=refused,
        is_test=kind == CallKind.TEST,
        is_canary=kind == CallKind.CANARY,
        ringing_at=rang,
        created_at=rang,
    )
    if drawn is not None:
        alert = alert_rows.alert_to_insert(values)
        if key is not None and call.from_number:
            alert.caller_number_enc = vault.text_for_row(
                cipher, key, "alerts", "caller_number_enc", drawn, call.from_number
            )
        alert_rows.insert_at_once(
            session,
            alert,
            leg=_caller_leg(alert),
            event=_opened_event(alert, found, refused, clock=clock),
            entry=_opened_entry(session, alert, kind, found, refused, clock=clock),
            new_key=key_row,
        )
    else:
        alert = Alert(**values)
        _insert_one_by_one(
            session, alert, call, key, refused, found, kind, cipher=cipher, clock=clock
        )
    if alert.is_test and found is not None and found.file_id is not None:
        file = session.get_one(BeneficiaryFile, found.file_id)
        record_test_call(session, alert, file, clock=clock)
    log.info("alert=%s opened kind=%s identified=%s", alert.id, kind.value, found is not None)
    return alert


def _nature(kind: CallKind, refused: Channel | None) -> AlertNature:
    if refused is not None:
        return AlertNature.NON_CONFORME
    return {
        CallKind.TEST: AlertNature.ESSAI,
        CallKind.CANARY: AlertNature.CANARI,
    }.get(kind, AlertNature.NON_QUALIFIEE)


def _data_key(
    session: Session,
    kind: CallKind,
    caller: alert_rows.Caller | None,
    *,
    cipher: Cipher,
    clock: Clock,
) -> tuple[WrappedKey | None, int | None]:
    """The alert's data key: a new one for an unidentified caller (with the key in hand).

    Made before the alert, so that the alert's row is inserted with it (an UPDATE less on
    every such alert, inside the gateway's write).
    """
    if caller is None:
        if kind == CallKind.CANARY:
            return None, None
        # R-22 "appelant non identifié": the number is personal data, kept under its own key.
        key_id, key = vault.create_key_now(session, cipher, purpose="alert", clock=clock)
        return key, key_id
    if caller.file_id is not None:
        return None, caller.file_data_key_id
    if caller.line_data_key_id is not None:
        return None, caller.line_data_key_id
    # a line assigned to nobody gets its own key on its first call.
    line = session.get_one(Line, caller.line_id)
    return None, ensure_line_key(session, line, cipher=cipher, clock=clock)


def _insert_one_by_one(
    session: Session,
    alert: Alert,
    call: IncomingCall,
    key: WrappedKey | None,
    refused: Channel | None,
    caller: alert_rows.Caller | None,
    kind: CallKind,
    *,
    cipher: Cipher,
    clock: Clock,
) -> None:
    """Insert the alert, its leg, event and audit entry by statements built once.

    SQLite, and on PostgreSQL a canary or a refused call. An unidentified caller's number
    is encrypted under the alert's id: on SQLite, where the write keeps every other writer
    out, the id is known before the insert and the number goes in with the row; elsewhere
    the id comes from the insert and the number follows (an ``UPDATE`` at the next flush).
    """
    number = call.from_number if key is not None and alert.data_key_id is not None else None
    if number and key is not None and excludes_other_writers(session):
        alert.id = alert_rows.next_alert_id(session)
        alert.caller_number_enc = vault.text_for_row(
            cipher, key, "alerts", "caller_number_enc", alert.id, number
        )
        number = None  # in the row already
    alert_rows.insert_alert(session, alert)
    if number and alert.data_key_id is not None:
        key_id = alert.data_key_id
        vault.put_text(session, cipher, alert, "caller_number_enc", number, key_id=key_id, key=key)
    if refused is not None and call.to_number and alert.data_key_id is not None:
        number, key_id = call.to_number, alert.data_key_id
        vault.put_text(session, cipher, alert, "dialled_number_enc", number, key_id=key_id, key=key)
    batch_rows.insert(session, alert_rows.INSERT_LEG, [_caller_leg(alert)])
    events.insert_now(session, _opened_event(alert, caller, refused, clock=clock))
    audit.insert_now(session, _opened_entry(session, alert, kind, caller, refused, clock=clock))


def _caller_leg(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.id,
        "call_sid": alert.call_sid,
        "role": LegRole.CALLER,
        "status": "ringing",
        "started_at": alert.ringing_at,
    }


def _opened_event(
    alert: Alert, caller: alert_rows.Caller | None, refused: Channel | None, *, clock: Clock
) -> dict[str, Any]:
    payload = {
        "alert_id": alert.id,
        "line_id": alert.line_id,
        "file_id": alert.file_id,
        "identified": caller is not None,
        "is_test": alert.is_test,
        "is_canary": alert.is_canary,
        "restricted": refused.value if refused else None,
        # Enough for a console to show the row at once (the reference is anonymous).
        "reference": alert.reference,
        "ringing_at": alert.ringing_at.isoformat(),
    }
    return events.event_values(
        events.ALERT_OPENED, payload, territory_id=alert.territory_id, clock=clock
    )


def _opened_entry(
    session: Session,
    alert: Alert,
    kind: CallKind,
    caller: alert_rows.Caller | None,
    refused: Channel | None,
    *,
    clock: Clock,
) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": kind.value, "identified": caller is not None}
    if refused is not None:
        details["restricted"] = refused.value
    return audit.entry_values(
        session,
        actor="carrier",
        action="alert.opened",
        object_type="alert",
        object_id=alert.id,
        details=details,
        clock=clock,
    )


# Built once: its SQL and cache key are computed on first use, not for every call.
_IDENTIFY = alert_rows.with_current_file(
    select(Line, LineAssignment, BeneficiaryFile).where(Line.msisdn == bindparam("number"))
)


def identify(
    session: Session, number: str | None
) -> tuple[Line | None, LineAssignment | None, BeneficiaryFile | None]:
    """Find the line, its current assignment and file from the caller's number alone (R-20)."""
    if not number:
        return None, None, None
    # One round trip: this runs inside the voice webhook's write lock (E-01, E-12).
    row = session.execute(_IDENTIFY, {"number": number}).first()
    if row is None:
        return None, None, None
    line, assignment, file = row
    return line, assignment, file


def ensure_line_key(session: Session, line: Line, *, cipher: Cipher, clock: Clock) -> int:
    """Return the line's own data key, creating it on first use (R-52: no file yet)."""
    if line.data_key_id is None:
        line.data_key_id = vault.create_key(session, cipher, purpose="line", clock=clock).id
        session.flush()
    return line.data_key_id


def record_test_call(
    session: Session, alert: Alert, file: BeneficiaryFile, *, clock: Clock
) -> None:
    """Hook for test calls: R-30 (last successful test) and R-11 step 3 during commissioning."""
    file.last_test_call_at = clock.now()
    session.flush()
    commissioning.record_test_call(session, alert, clock=clock)


def ongoing_alert_for_line(session: Session, line_id: int) -> Alert | None:
    """Return the line's most recent alert that is not closed, if any."""
    return session.scalar(
        select(Alert)
        .where(Alert.line_id == line_id, Alert.state != AlertState.CLOSED)
        .order_by(Alert.id.desc())
        .limit(1)
    )


def find_by_call_sid(session: Session, call_sid: str) -> Alert | None:
    """Return the alert opened by this carrier call id."""
    return session.scalar(select(Alert).where(Alert.call_sid == call_sid))


def close_canary(session: Session, alert: Alert, *, clock: Clock) -> None:
    """R-24c: the canary acknowledges its own alert, which never counts in reports."""
    if not alert.is_canary:
        raise ValueError("only a canary alert closes itself")
    alert.state = AlertState.CLOSED
    alert.closed_at = clock.now()
    session.flush()


def raise_supervisor_alarm(
    session: Session,
    reason: str,
    details: dict[str, Any],
    *,
    clock: Clock,
    actor: str = "system:gateway",
) -> None:
    """Put a supervisor alarm in the outbox and the audit log (R-24c, gateway and job faults)."""
    events.add_event(
        session,
        events.SUPERVISOR_ALARM,
        {"reason": reason, **details},
        territory_id=None,
        clock=clock,
    )
    audit.record(
        session,
        actor=actor,
        action=f"{actor.split(':', 1)[-1]}.alarm",
        details={"reason": reason, **details},
        clock=clock,
    )
    log.critical("SUPERVISOR ALARM reason=%s %s", reason, details)


def alert_as_json(alert: Alert) -> dict[str, Any]:
    """Return the public JSON form of an alert (no personal data)."""
    return {
        "id": alert.id,
        "call_sid": alert.call_sid,
        "line_reference": alert.reference,
        "state": alert.state.value,
        "nature": alert.nature.value,
        "is_test": alert.is_test,
        "is_canary": alert.is_canary,
        "restricted_channel": alert.restricted_channel.value if alert.restricted_channel else None,
        "file_id": alert.file_id,
        "conference": alert.conference_name,
        "answered_at": _iso(alert.answered_at),
        "bridge_lost_at": _iso(alert.bridge_lost_at),
        "created_at": alert.created_at.isoformat().replace("+00:00", "Z"),
    }


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def show_alert(session: Session, alert_id: int) -> dict[str, Any] | None:
    """One alert as listed, plus the legs of its bridge: ``{role, status}`` (DESIGN §10)."""
    from tgd.db.models.forces import ForceUnit
    from tgd.services.dispatch import leg_role_code

    alert = session.get(Alert, alert_id)
    if alert is None:
        return None
    rows = session.execute(
        select(CallLeg, ForceUnit.kind)
        .outerjoin(ForceUnit, ForceUnit.id == CallLeg.unit_id)
        .where(CallLeg.alert_id == alert.id)
        .order_by(CallLeg.id)
    ).all()
    body = alert_as_json(alert)
    body["legs"] = [
        {
            "role": leg_role_code(leg, kind),
            "status": leg.status,
            "started_at": _iso(leg.started_at),
            "ended_at": _iso(leg.ended_at),
            "failure": leg.failure,
        }
        for leg, kind in rows
    ]
    return body


def list_alerts(session: Session, *, limit: int = 200) -> list[dict[str, Any]]:
    """List the most recent alerts, newest first (by the time they were recorded)."""
    rows = session.scalars(
        select(Alert).order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)
    )
    return [alert_as_json(a) for a in rows]
