"""Console events through the transactional outbox (E-02).

A service that changes something the consoles show adds a ``ConsoleEvent``
row in the same transaction as the change, so an event exists if and only if
the change was committed. A publisher (the console issue) pushes the rows over
Socket.IO in ``seq`` order; a console resumes from its last ``seq``
(``events_after``). Payloads hold ids and codes only, never personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Insert, Table, select
from sqlalchemy.orm import Session

from tgd.db import batch_rows
from tgd.db.models.operations import ConsoleEvent
from tgd.db.outbox_order import note_inserted
from tgd.db.statements import prefixed_insert
from tgd.ports import Clock

# Event kinds (past tense, STYLE rule 6).
ALERT_OPENED = "alert_opened"
ALERT_ANSWERED = "alert_answered"
ALERT_CALL_ENDED = "alert_call_ended"
ALERT_BRIDGE_LOST = "alert_bridge_lost"  # R-24b: flagged to operators
ALERT_CALLED_BACK = "alert_called_back"  # R-24b
FORCE_ADDED = "force_added"
OPERATOR_LEFT = "operator_left"
LEG_UPDATED = "leg_updated"  # a leg of the bridge changed status (ringing, in line, failed…)
COUNTER_CALL_ROUTED = "counter_call_routed"
POSITION_RECEIVED = "position_received"
POSITION_REQUESTED = "position_requested"
SUPERVISOR_ALARM = "supervisor_alarm"  # R-24c and gateway faults
SMS_RECEIVED = "sms_received"  # a text kept for the operators (unknown sender, free text)
SMS_READ = "sms_read"
TASK_ESCALATED = "task_escalated"  # a chase step left untreated, for the supervisors


def add_event(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    territory_id: int | None,
    clock: Clock,
) -> ConsoleEvent:
    """Add an event to the outbox in the caller's transaction (E-02); flushed with the change."""
    event = ConsoleEvent(**event_values(kind, payload, territory_id=territory_id, clock=clock))
    session.add(event)
    return event


def event_values(
    kind: str, payload: dict[str, Any], *, territory_id: int | None, clock: Clock
) -> dict[str, Any]:
    """Return an event's row values (``EVENT_COLUMNS``): what ``add_event`` adds."""
    return {
        "kind": kind,
        "payload": payload,
        "territory_id": territory_id,
        "created_at": clock.now(),
    }


_TABLE = cast(Table, ConsoleEvent.__table__)
_INSERT = _TABLE.insert()
EVENT_COLUMNS = ("kind", "payload", "territory_id", "created_at")


def insert_statement(prefix: str) -> Insert:
    """An event's INSERT taking its ``EVENT_COLUMNS`` as bind parameters ``<prefix><name>``.

    For a statement that writes an event with other rows at once (``alert_rows``); its
    caller notes the event for the hub (``outbox_order.note_inserted``).
    """
    return prefixed_insert(_TABLE, prefix, EVENT_COLUMNS)


def insert_now(session: Session, values: dict[str, Any]) -> None:
    """Add an event (``event_values``) at once, in one statement built once, without the ORM.

    The same event as ``add_event``, for the gateway's hot path (an alert's unit), where
    the ORM's flush of the row cost more CPU than the insert (docs/gateway.md).
    """
    insert_all(session, [values])


def add_all(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """``add_event`` for events whose values are made (``event_values``): ORM objects."""
    session.add_all(ConsoleEvent(**values) for values in rows)


def insert_all(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """``insert_now`` for many events (``event_values``): one statement, executed for all.

    For a pass of escalation or overflow, which announces twenty alerts in a transaction
    that holds the write gate: an ORM object per event cost more CPU than the inserts. In
    a gateway batch the rows go in with the batch's others, before its commit
    (``tgd.db.batch_rows``): nothing reads an event back before the commit.
    """
    if rows:
        batch_rows.insert(session, _INSERT, rows)
        note_inserted(session)


def events_after(session: Session, seq: int, *, limit: int = 500) -> list[ConsoleEvent]:
    """Return the events after ``seq``, in order: what a reconnecting console missed (E-02)."""
    return list(
        session.scalars(
            select(ConsoleEvent)
            .where(ConsoleEvent.seq > seq)
            .order_by(ConsoleEvent.seq)
            .limit(limit)
        )
    )
