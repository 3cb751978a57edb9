"""Carrier webhooks and signed terminal data (DESIGN §10): thin views over the services.

Every route is authenticated (R-54): Twilio's signature for ``/gateway/twilio/…``,
the terminal's HMAC for ``/gateway/positions``. Every write is committed before
the answer (E-01) by the gateway writer (``db.write``: one writer thread, group
commit, first in line, bounded in time).
Bad input gets a precise 4xx with an English JSON body; the voice webhook never
refuses a signed call: whatever fails, it answers TwiML that bridges the caller.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from handset_gateway import twiml
from handset_gateway.db import write
from handset_gateway.security import refuse, twilio_signed
from handset_gateway.spool import SpooledCall, now_iso
from tgd.container import Platform
from tgd.db.writes import WriteGateTimeout
from tgd.domain.positions import PositionError
from tgd.http import current_platform, telephony
from tgd.metrics import metrics
from tgd.services import dispatch, positions, restrictions
from tgd.services.alerts import (
    CallKind,
    CallRoute,
    IncomingCall,
    answer_once,
    new_conference_name,
    normalise_number,
)
from tgd.settings import Settings

T = TypeVar("T")
bp = Blueprint("gateway", __name__, url_prefix="/gateway")
log = logging.getLogger(__name__)
_CALL_SID_RE = re.compile(r"[A-Za-z0-9]{2,64}")


@bp.before_request
def _start_clock() -> None:
    g.gateway_started = time.perf_counter()


@bp.after_request
def _observe(response: Response) -> Response:
    started = g.pop("gateway_started", None)
    if started is not None:
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics().webhook_latency.labels(route, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started
        )
    return response


@bp.post("/twilio/voice")
@twilio_signed
def voice() -> Response:
    """Record the call as an alert, then put the caller into its bridge (R-21, R-24)."""
    platform, form = current_platform(), request.form
    settings = platform.settings
    call = IncomingCall(
        call_sid=_call_sid(form.get("CallSid", "")),
        from_number=normalise_number(form.get("From")),
        to_number=normalise_number(form.get("To")),
    )
    prepared: dispatch.PreparedCall | None = None
    try:
        # Classified, its bridge drawn and its answer made here, before the writer: a batch
        # of calls then claims its receipts together (``alert_rows.claim_together``).
        prepared = _prepare(platform, call)
        body = write(
            platform,
            lambda session: record_call(session, platform, call, prepared),
            timeout_ms=settings.gateway.record_timeout_ms,
            label="voice",
            urgent=True,  # a caller waits on the line: ahead of status callbacks
            claim=prepared.claim,
        )
    except Exception as exc:  # whatever failed, the caller is bridged, never dropped
        kind = prepared.kind if prepared is not None else CallKind.ALERT
        body = _answer_deferred(platform, call, kind, exc)
    else:
        metrics().alerts_received.labels(prepared.kind.value, "recorded").inc()
    return _xml(body)


def _render(platform: Platform) -> Callable[[CallRoute], str]:
    callbacks = dispatch.carrier_callbacks(platform.settings.twilio.public_base_url)
    return partial(twiml.render, callbacks=callbacks)


def _prepare(platform: Platform, call: IncomingCall) -> dispatch.PreparedCall:
    settings = platform.settings
    return dispatch.prepare_call(
        call,
        render=_render(platform),
        gateway=settings.gateway,
        counter_call_number=settings.twilio.counter_call_number,
        restrictions=settings.restrictions,
    )


def record_call(
    session: Session,
    platform: Platform,
    call: IncomingCall,
    prepared: dispatch.PreparedCall | None = None,
) -> str:
    """Record a call (live, or from the spool) and return its TwiML answer (R-21, E-03).

    ``prepared``: the call's ``dispatch.prepare_call``, made before its unit.
    """
    settings = platform.settings
    return dispatch.receive_call(
        session,
        call,
        render=_render(platform),
        gateway=settings.gateway,
        alerts=settings.alerts,
        counter_call_number=settings.twilio.counter_call_number,
        restrictions=settings.restrictions,
        cipher=platform.cipher,
        clock=platform.clock,
        prepared=prepared,
    )


def _answer_deferred(platform: Platform, call: IncomingCall, kind: CallKind, exc: Exception) -> str:
    """The database took no write: bridge the caller, and keep the call to record it later."""
    settings = platform.settings
    overflow = settings.alerts.overflow_number or None
    conference = new_conference_name()
    spooled = SpooledCall(
        call_sid=call.call_sid,
        from_number=call.from_number,
        to_number=call.to_number,
        conference=None if overflow else conference,
        dial=overflow,
        received_at=now_iso(),
        source="app",
    )
    try:
        current_app.extensions["tgd.spool"].append(spooled)
    except Exception as spool_exc:  # the disk failed too: the caller is still bridged
        log.critical(
            "VOICE WEBHOOK: ALERT NOT RECORDED (%s: %s; spool: %s); caller bridged to the "
            "fallback (overflow number configured=%s, conference=%s)",
            type(exc).__name__,
            str(exc)[:120],
            type(spool_exc).__name__,
            bool(overflow),
            conference,
        )
        metrics().alerts_received.labels(kind.value, "lost").inc()
    else:
        log.error(
            "voice webhook: database took no write (%s: %s); call %s deferred to the spool, "
            "caller bridged (overflow number configured=%s, conference=%s)",
            type(exc).__name__,
            str(exc)[:120],
            call.call_sid,
            bool(overflow),
            conference,
        )
        metrics().alerts_received.labels(kind.value, "deferred").inc()
    return twiml.fallback(
        overflow, conference, dispatch.carrier_callbacks(settings.twilio.public_base_url)
    )


def record_spooled(platform: Platform, spooled: SpooledCall) -> None:
    """Record a call from the spool, in the bridge the caller was put into (idempotent)."""
    call = IncomingCall(
        call_sid=spooled.call_sid,
        from_number=spooled.from_number,
        to_number=spooled.to_number,
        conference_name=spooled.conference,
        received_at=spooled.received,
    )

    def unit(session: Session) -> None:
        record_call(session, platform, call)
        if spooled.dial:  # dialled on to the backup centre already: no second overflow
            dispatch.mark_overflowed(session, call.call_sid, at=spooled.received)

    write(
        platform,
        unit,
        timeout_ms=platform.settings.gateway.record_timeout_ms,
        label="voice (spool)",
    )
    metrics().alerts_replayed.labels(spooled.source).inc()


@bp.post("/twilio/voice/status")
@twilio_signed
def voice_status() -> Any:
    """Record a call leg's status (the caller hung up, the police answered…)."""
    platform, form = current_platform(), request.form
    sid, status = form.get("CallSid", ""), form.get("CallStatus", "")
    if not sid or not status:
        return _error(400, "missing_field", "CallSid and CallStatus are required")
    duration = form.get("CallDuration", "")
    leg = request.args.get("leg", "")  # signed with the URL (E-04): the leg we dialled

    # No receipt (E-03): applying a status is idempotent by itself (``record_call_status``);
    # a receipt's look-up and insert cost each callback two statements in the writer.
    _write(
        platform,
        lambda session: dispatch.record_call_status(
            session,
            sid,
            status,
            duration_s=int(duration) if duration.isdigit() else None,
            clock=platform.clock,
            leg_id=int(leg) if leg.isdigit() else None,
        ),
        "call status",
    )
    return _xml(twiml.empty_voice())


@bp.post("/twilio/conference/status")
@twilio_signed
def conference_status() -> Any:
    """Follow the bridge; the watchdog calls the terminal back if it ends too soon (R-24b)."""
    platform, form = current_platform(), request.form
    event = dispatch.ConferenceEvent(
        conference_sid=form.get("ConferenceSid", ""),
        friendly_name=form.get("FriendlyName", ""),
        event=form.get("StatusCallbackEvent", ""),
        call_sid=form.get("CallSid") or None,
        label=form.get("ParticipantLabel") or None,
    )
    if not (event.conference_sid and event.friendly_name and event.event):
        return _error(
            400, "missing_field", "ConferenceSid, FriendlyName and StatusCallbackEvent are required"
        )
    key = f"conference:{event.conference_sid}:{event.event}:{event.call_sid or ''}"[:160]
    dials: list[dispatch.PendingDial] = []

    def unit(session: Session) -> str:
        def produce() -> str:
            dials.extend(
                dispatch.record_conference_event(
                    session,
                    event,
                    gateway=platform.settings.gateway,
                    cipher=platform.cipher,
                    clock=platform.clock,
                )
            )
            return twiml.empty_voice()

        if event.event != "conference-end":  # idempotent by itself: no receipt (E-03)
            return produce()
        body, _ = answer_once(session, key, produce, clock=platform.clock)  # one call-back
        return body

    body = _write(platform, unit, "conference status")
    # R-24b: the call-back is placed once its leg is committed, never inside the transaction.
    dispatch.complete_dials(
        platform.sessions,
        dials,
        telephony=telephony(),
        gateway=platform.settings.gateway,
        callbacks=dispatch.carrier_callbacks(platform.settings.twilio.public_base_url),
        clock=platform.clock,
    )
    return _xml(body)


@bp.post("/twilio/sms")
@twilio_signed
def sms() -> Any:
    """Store a position sent by SMS (R-28), or route an SMS to a third party (Annexe 2 I.1)."""
    platform, form = current_platform(), request.form
    settings = platform.settings
    if not form.get("MessageSid") or "Body" not in form:
        return _error(400, "missing_field", "MessageSid and Body are required")
    try:

        def unit(session: Session) -> Any:
            route = restrictions.route_outgoing_sms(
                session,
                message_sid=form["MessageSid"],
                from_number=normalise_number(form.get("From")),
                to_number=normalise_number(form.get("To")),
                gateway=settings.gateway,
                restrictions=settings.restrictions,
                counter_call_number=settings.twilio.counter_call_number,
                cipher=platform.cipher,
                clock=platform.clock,
            )
            if route is not None:
                return route
            positions.receive_sms(
                session,
                message_sid=form["MessageSid"],
                from_number=normalise_number(form.get("From")),
                body=form["Body"],
                tolerance=_tolerance(platform.settings),
                cipher=platform.cipher,
                clock=platform.clock,
            )
            return None

        route = _write(platform, unit, "sms")
        if route is not None:
            return _xml(twiml.relay_message(route, form["Body"]))
    except PositionError as exc:
        log.warning("position SMS refused: %s (%s)", exc.code, exc.field)
        return _error(exc.http_status, exc.code, exc.message, field=exc.field)
    return _xml(twiml.empty_messaging())


@bp.post("/positions")
def signed_position() -> Any:
    """Store a position posted by a data-capable terminal, signed with its line secret (R-54)."""
    platform, headers = current_platform(), request.headers
    payload = request.get_data(cache=False)
    try:
        position = _write(
            platform,
            lambda session: positions.receive_signed(
                session,
                key_id=headers.get("X-TGD-Key", ""),
                timestamp=headers.get("X-TGD-Timestamp", ""),
                nonce=headers.get("X-TGD-Nonce", ""),
                signature=headers.get("X-TGD-Signature", ""),
                body=payload,
                tolerance=_tolerance(platform.settings),
                cipher=platform.cipher,
                clock=platform.clock,
            ),
            "position",
        )
    except PositionError as exc:
        if exc.http_status in (403, 409):
            return refuse(
                "gateway.position_refused", exc.code, status=exc.http_status, message=exc.message
            )
        log.warning("signed position refused: %s (%s)", exc.code, exc.field)
        return _error(exc.http_status, exc.code, exc.message, field=exc.field)
    return jsonify(position_id=position.id, alert_id=position.alert_id), 201


@bp.errorhandler(SQLAlchemyError)
@bp.errorhandler(WriteGateTimeout)
def database_unavailable(exc: Exception) -> Any:
    """Status callbacks and positions when the database fails: 503, logged loudly."""
    log.critical("GATEWAY: database failure on %s (%s)", request.path, type(exc).__name__)
    return _error(503, "unavailable", "database unavailable, retry later")


def _write(platform: Platform, work: Callable[[Session], T], label: str) -> T:
    """Run one gateway unit in the writer's next batch, committed before the answer (E-01)."""
    return write(
        platform, work, timeout_ms=platform.settings.gateway.record_timeout_ms, label=label
    )


def _call_sid(raw: str) -> str:
    """Return the carrier's call id, or a made-up one when missing or malformed (R-22)."""
    if _CALL_SID_RE.fullmatch(raw):
        return raw
    log.warning("voice webhook without a usable CallSid: recorded under a generated id")
    return "CAmissing" + secrets.token_hex(12)


def _tolerance(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.gateway.clock_tolerance_seconds)


def _xml(body: str) -> Response:
    return Response(body, mimetype="text/xml")


def _error(status: int, code: str, message: str, *, field: str | None = None) -> Any:
    response = jsonify(error=code, field=field, message=message)
    response.status_code = status
    return response
