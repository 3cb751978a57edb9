"""A call leg's status as columns, read and written by statements built once.

The carrier calls back three or four times for each leg we dial (``initiated``,
``ringing``, ``in-progress``, ``completed``), so in a burst with overflow the status
callbacks are most of the gateway writer's units. As ORM objects, each one loaded the
leg and its alert (fifty columns), flushed, and added an event object: about as much
CPU as the alert's own unit (docs/gateway.md); so did a participant's joining or leaving
the bridge. Here the leg's state is one row of the columns they need (with its alert's
territory), and its change one ``UPDATE``.

Consistency with the ORM in the same session (the gateway writer's batch runs several
units in one): the session is flushed before the row is read, and an ORM copy of a
row written here is expired, so that a later unit reads it again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from tgd.db.models.alerts import Alert, CallLeg
from tgd.domain.alerts import LegRole

_LEGS = cast(Table, CallLeg.__table__)
_ALERTS = cast(Table, Alert.__table__)


@dataclass
class LegState:
    """What a status callback reads and may change of a leg; the changeable part last."""

    id: int
    alert_id: int
    territory_id: int | None
    role: LegRole
    user_id: int | None
    call_sid: str | None
    status: str
    failure: str | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_s: int | None


_READ_ONLY = ("id", "alert_id", "territory_id", "role", "user_id")
CHANGEABLE = tuple(f.name for f in fields(LegState) if f.name not in _READ_ONLY)


def _column(name: str) -> Any:
    return _ALERTS.c.territory_id if name == "territory_id" else _LEGS.c[name]


_STATE = select(*(_column(f.name) for f in fields(LegState))).join_from(
    _LEGS, _ALERTS, _ALERTS.c.id == _LEGS.c.alert_id
)
_BY_ID = _STATE.where(_LEGS.c.id == bindparam("leg_id"))
_BY_CALL_SID = _STATE.where(_LEGS.c.call_sid == bindparam("call_sid"))
# The SET clause is every key of the parameters but ``leg_id``: the columns that changed.
_UPDATE_LEG = update(_LEGS).where(_LEGS.c.id == bindparam("leg_id"))
_UPDATE_ALERT = update(_ALERTS).where(_ALERTS.c.id == bindparam("alert_id"))
_BRIDGE = select(_ALERTS.c.id, _ALERTS.c.answered_at, _ALERTS.c.territory_id).where(
    _ALERTS.c.conference_name == bindparam("name")
)


def leg_state(
    session: Session, call_sid: str | None, *, leg_id: int | None, call_sid_first: bool = False
) -> LegState | None:
    """The leg ``leg_id`` (our callback URL's, a participant's label) or the call's leg.

    The id is trusted only for a leg without a call id or with this one (a forged or stale
    id otherwise). A status callback looks the id up first: it finds a leg we dialled
    before the carrier's call id is recorded; a conference event the call id first.
    """
    session.flush()  # what the ORM holds of this batch first: the statement reads the database
    connection = session.connection()

    def by_call_sid() -> Row[Any] | None:
        if not call_sid:
            return None
        return connection.execute(_BY_CALL_SID, {"call_sid": call_sid}).first()

    def by_id() -> Row[Any] | None:
        if leg_id is None:
            return None
        row = connection.execute(_BY_ID, {"leg_id": leg_id}).first()
        if row is not None and call_sid and row.call_sid not in (None, call_sid):
            return None
        return row

    first, then = (by_call_sid, by_id) if call_sid_first else (by_id, by_call_sid)
    row = first() or then()
    return LegState(**row._mapping) if row is not None else None


@dataclass(frozen=True)
class Bridge:
    """What a participant's event needs of the bridge's alert."""

    id: int
    answered_at: datetime | None
    territory_id: int | None


def bridge_of(session: Session, conference_name: str) -> Bridge | None:
    """The alert whose bridge (conference) this is, or None."""
    session.flush()  # as in ``leg_state``: the ORM's changes of this batch first
    row = session.connection().execute(_BRIDGE, {"name": conference_name}).first()
    return Bridge(**row._mapping) if row is not None else None


def save_leg(session: Session, leg: LegState, before: LegState) -> None:
    """Write what changed of ``leg`` since ``before`` (nothing when nothing did).

    Only the changed columns, as the ORM's flush did: PostgreSQL takes other writers in
    parallel (a dial's outcome), and a column this status did not touch keeps theirs.
    """
    changed = {
        name: getattr(leg, name)
        for name in CHANGEABLE
        if getattr(leg, name) != getattr(before, name)
    }
    if not changed:
        return
    session.connection().execute(_UPDATE_LEG, {"leg_id": leg.id, **changed})
    _expire(session, CallLeg, leg.id)


def end_alert_call(session: Session, alert_id: int, now: datetime) -> None:
    """Note that the alert's caller (or call-back) hung up at ``now``."""
    _update_alert(session, alert_id, ended_at=now)


def answer_alert(session: Session, alert_id: int, now: datetime) -> None:
    """Note that the alert's caller (or call-back) joined its bridge at ``now``."""
    _update_alert(session, alert_id, answered_at=now)


def _update_alert(session: Session, alert_id: int, **values: Any) -> None:
    session.connection().execute(_UPDATE_ALERT, {"alert_id": alert_id, **values})
    _expire(session, Alert, alert_id)


def _expire(session: Session, model: type[Any], row_id: int) -> None:
    # An ORM copy loaded by an earlier unit of the batch would show the old values.
    loaded = session.identity_map.get(identity_key(model, row_id))
    if loaded is not None:
        session.expire(loaded)
