"""Carrier actions from the console, in the order that fails safe (issue 13, item 6).

A view records the intent (a leg ``dialling``, a position request) in its own
transaction, then calls these helpers: they commit, ask the carrier with no
transaction open, and keep the outcome in a new short transaction on the same
request session, committed before the answer. When the carrier refuses, the leg
says ``failed`` with the reason and the operator gets a French message; there is
never a call at the carrier without its row, nor a row that claims a call.
"""

from __future__ import annotations

from flask_babel import gettext

from tgd.db.models.alerts import CallLeg
from tgd.domain.errors import DomainError
from tgd.domain.labels import failure_label
from tgd.http import commit, current_platform, db_session, telephony
from tgd.services import dispatch


class CarrierFailed(DomainError):
    """The carrier did not take the call; the row says so, the operator reads why."""

    http_status = 502


def callbacks() -> dispatch.Callbacks:
    """Return the public URLs the carrier reports to."""
    return dispatch.carrier_callbacks(current_platform().settings.twilio.public_base_url)


def failure_text(code: str | None) -> str:
    """Return the French (or English) reason of a stored failure code."""
    found = failure_label(code)
    if found is None:
        return ""
    template, params = found
    return str(gettext(template, **params))


def _next_transaction() -> None:
    """Start the request session's next transaction as a writer (the write gate, then BEGIN)."""
    db_session()


def dial(pending: dispatch.PendingDial) -> CallLeg:
    """Commit the intent, place the leg at the carrier, record and commit the outcome."""
    platform = current_platform()
    commit()
    result = dispatch.place(
        pending, telephony=telephony(), gateway=platform.settings.gateway, callbacks=callbacks()
    )
    _next_transaction()
    leg = dispatch.record_dial(db_session(), result, clock=platform.clock)
    commit()
    if dispatch.must_hang_up(leg):
        dispatch.hang_up_quietly(telephony(), leg)
    return leg


def leave(removals: list[dispatch.PendingRemoval]) -> list[CallLeg]:
    """Commit the ``leaving`` marks, remove each leg at the carrier, record and commit."""
    platform = current_platform()
    commit()
    results = [dispatch.remove(r, telephony=telephony()) for r in removals]
    _next_transaction()
    legs = [dispatch.record_removal(db_session(), r, clock=platform.clock) for r in results]
    commit()
    return legs


def send_position_request(request_id: int, to: str) -> str | None:
    """Commit the request, send the SMS, keep its id or drop the request; return the failure."""
    platform = current_platform()
    commit()
    sid, failure = dispatch.send_position_request(
        to, telephony=telephony(), gateway=platform.settings.gateway
    )
    _next_transaction()
    dispatch.record_position_request(db_session(), request_id, sid, clock=platform.clock)
    commit()
    return failure
