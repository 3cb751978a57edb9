"""Operators' handling of an alert (R-23, R-27): claim, note, close; escalation and overflow.

Claiming is one conditional UPDATE, so when two operators click at once
exactly one wins (R-23). Escalation and overflow are catch-up queries on the
alerts' ages, idempotent across processes (each marks what it did with a
conditional UPDATE). Every change adds a console event in the same
transaction (E-02) and an audit entry.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert
from tgd.db.models.users import User
from tgd.domain.alerts import AlertNature, AlertState, Orientation
from tgd.domain.errors import N_, Conflict, ValidationError
from tgd.ports import Cipher, Clock
from tgd.services import audit, events, vault

ALERT_CLAIMED = "alert_claimed"
ALERT_CLOSED = "alert_closed"
ALERT_NOTE_ADDED = "alert_note_added"
ALERT_ESCALATED = "alert_escalated"
ALERT_OVERFLOWED = "alert_overflowed"
NOTE_MAX = 4000


def claim_alert(session: Session, alert: Alert, user: User, *, clock: Clock) -> None:
    """Take an alert for this operator; refuse if another operator took it first (R-23)."""
    now = clock.now()
    result = session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.state == AlertState.RINGING)
        .values(state=AlertState.CLAIMED, claimed_at=now, operator_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        session.refresh(alert)
        raise Conflict(N_("Cette alerte a déjà été prise en charge par un autre téléassisteur."))
    session.refresh(alert)
    _announce(
        session,
        alert.id,
        alert.territory_id,
        ALERT_CLAIMED,
        {"alert_id": alert.id, "operator_id": user.id},
        actor=f"user:{user.id}",
        action="alert.claim",
        clock=clock,
    )


def _announce(
    session: Session,
    alert_id: int,
    territory_id: int | None,
    event: str,
    payload: dict[str, Any],
    *,
    actor: str,
    action: str,
    details: Mapping[str, Any] | None = None,
    clock: Clock,
) -> None:
    """Tell the consoles of the alert's territory about a change (E-02), and audit it."""
    events.add_event(session, event, payload, territory_id=territory_id, clock=clock)
    audit.record(
        session,
        actor=actor,
        action=action,
        object_type="alert",
        object_id=alert_id,
        details=details,
        clock=clock,
    )


def _announce_all(
    session: Session,
    territories: Mapping[int, int | None],
    event: str,
    payloads: Mapping[int, dict[str, Any]],
    *,
    action: str,
    details: Mapping[int, Mapping[str, Any]] | None = None,
    clock: Clock,
) -> None:
    """``_announce`` the escalation's change of a batch of alerts (alert id → territory id).

    Two statements for the batch (its events, its audit entries) instead of two ORM objects
    per alert: these transactions hold the write gate, and the incoming calls of that
    moment wait behind them.
    """
    events.insert_all(
        session,
        [
            events.event_values(event, payloads[alert_id], territory_id=territory, clock=clock)
            for alert_id, territory in territories.items()
        ],
    )
    audit.insert_all(
        session,
        [
            audit.entry_values(
                session,
                actor="system:console",
                action=action,
                object_type="alert",
                object_id=alert_id,
                details=details[alert_id] if details else None,
                clock=clock,
            )
            for alert_id in territories
        ],
    )


def _note_key(session: Session, alert: Alert, *, cipher: Cipher, clock: Clock) -> int:
    if alert.data_key_id is None:
        alert.data_key_id = vault.create_key(session, cipher, purpose="alert", clock=clock).id
    return alert.data_key_id


def read_note(session: Session, alert: Alert, *, cipher: Cipher) -> str:
    """Return the alert's note in clear (empty when none)."""
    if alert.note_enc is None:
        return ""
    return vault.get_text(session, cipher, alert, "note_enc", key_id=alert.data_key_id) or ""


def add_note(
    session: Session, alert: Alert, user: User, text: str, *, cipher: Cipher, clock: Clock
) -> None:
    """Append a timestamped line to the alert's note (encrypted: it may name people)."""
    text = text.strip()
    if not text:
        raise ValidationError(N_("La note est vide."))
    previous = read_note(session, alert, cipher=cipher)
    stamp = clock.now().strftime("%Y-%m-%d %H:%M UTC")
    combined = f"{previous}\n[{stamp}] {text}".strip()
    if len(combined) > NOTE_MAX:
        raise ValidationError(N_("La note est trop longue (%(n)s caractères au plus)."), n=NOTE_MAX)
    key_id = _note_key(session, alert, cipher=cipher, clock=clock)
    vault.put_text(session, cipher, alert, "note_enc", combined, key_id=key_id)
    _announce(
        session,
        alert.id,
        alert.territory_id,
        ALERT_NOTE_ADDED,
        {"alert_id": alert.id},
        actor=f"user:{user.id}",
        action="alert.note",
        clock=clock,
    )


@dataclass(frozen=True)
class Closure:
    """What the operator records when closing an alert (R-27)."""

    nature: AlertNature
    orientation: Orientation
    note: str = ""
    non_compliance_cause: str = ""


def close_alert(
    session: Session, alert: Alert, user: User, closure: Closure, *, cipher: Cipher, clock: Clock
) -> None:
    """Close an alert with its nature, orientation and note (R-27)."""
    if alert.state == AlertState.CLOSED:
        raise Conflict(N_("Cette alerte est déjà close."))
    if closure.nature in (AlertNature.NON_QUALIFIEE, AlertNature.CANARI):
        raise ValidationError(N_("Choisissez la nature de l'appel."))
    # A call the gateway refused (Annexe 2 I.1) already carries its cause; the operator may
    # give a more precise one, and the refusal stays counted whatever the nature (table 9).
    gateway_cause = alert.non_compliance_cause if alert.restricted_channel else None
    cause = closure.non_compliance_cause.strip() or gateway_cause or ""
    if closure.nature is AlertNature.NON_CONFORME and not cause:
        raise ValidationError(N_("Indiquez la cause de la non-conformité."))
    if closure.note.strip():
        add_note(session, alert, user, closure.note, cipher=cipher, clock=clock)
    alert.state = AlertState.CLOSED
    alert.nature = closure.nature
    alert.orientation = closure.orientation
    alert.non_compliance_cause = (
        cause if closure.nature is AlertNature.NON_CONFORME or gateway_cause else None
    ) or None
    alert.closed_at = clock.now()
    alert.operator_id = alert.operator_id or user.id
    alert.claimed_at = alert.claimed_at or clock.now()
    session.flush()
    chosen = {"nature": closure.nature.value, "orientation": closure.orientation.value}
    _announce(
        session,
        alert.id,
        alert.territory_id,
        ALERT_CLOSED,
        {"alert_id": alert.id, **chosen},
        actor=f"user:{user.id}",
        action="alert.close",
        details=chosen,
        clock=clock,
    )


def escalate_due(
    session: Session, *, after_seconds: int, clock: Clock, dry_run: bool = False
) -> list[int]:
    """Mark unclaimed alerts older than the delay as escalated (R-23); return their ids.

    ``dry_run`` only returns the ids that are due, writing nothing.
    """
    limit = clock.now() - timedelta(seconds=after_seconds)
    due = list(
        session.scalars(
            select(Alert.id).where(
                Alert.state == AlertState.RINGING,
                Alert.escalated_at.is_(None),
                Alert.is_canary.is_(False),
                Alert.ringing_at <= limit,
            )
        )
    )
    if dry_run:
        return due
    return escalate_ids(session, due, clock=clock)


def escalate_ids(session: Session, alert_ids: list[int], *, clock: Clock) -> list[int]:
    """Mark these alerts escalated unless done already (by another run); return those marked."""
    marked = _mark_once(session, alert_ids, Alert.escalated_at, clock=clock)
    _announce_all(
        session,
        marked,
        ALERT_ESCALATED,
        {alert_id: {"alert_id": alert_id} for alert_id in marked},
        action="alert.escalate",
        clock=clock,
    )
    return list(marked)


def _mark_once(
    session: Session, alert_ids: list[int], stamp: Any, *, clock: Clock
) -> dict[int, int | None]:
    """Set ``stamp`` (a time column of ``Alert``) on the ringing alerts where it is unset.

    One conditional UPDATE for the batch, so each alert is marked once across runs and
    processes: what it returns (alert id → territory id, in ``alert_ids`` order) is what
    this run marked.
    """
    if not alert_ids:
        return {}
    marking = _marking(stamp.key)
    marked = dict(session.execute(marking, {"ids": alert_ids, "now": clock.now()}).all())
    return {alert_id: marked[alert_id] for alert_id in alert_ids if alert_id in marked}


@functools.cache
def _marking(stamp_name: str) -> Any:
    """``_mark_once``'s UPDATE for one stamp, built once (no reference cycle per call)."""
    stamp = getattr(Alert, stamp_name)
    return (
        update(Alert)
        .where(
            Alert.id.in_(bindparam("ids", expanding=True)),
            stamp.is_(None),
            Alert.state == AlertState.RINGING,
        )
        .values({stamp: bindparam("now")})
        .returning(Alert.id, Alert.territory_id)
        .execution_options(synchronize_session=False)
    )


def overflow_candidates(session: Session, *, after_seconds: int, clock: Clock) -> list[Alert]:
    """Return unclaimed alerts older than the overflow delay not yet overflowed (R-23b)."""
    limit = clock.now() - timedelta(seconds=after_seconds)
    return list(
        session.scalars(
            select(Alert).where(
                Alert.state == AlertState.RINGING,
                Alert.overflowed_at.is_(None),
                Alert.is_canary.is_(False),
                Alert.ringing_at <= limit,
            )
        )
    )


def overflow_ids(session: Session, numbers: Mapping[int, str | None], *, clock: Clock) -> list[int]:
    """Mark these alerts overflowed unless done already (R-23b); return those marked.

    ``numbers`` gives each alert the number its overflow dials (``None``: no backup
    number known, the alert is marked all the same and the event says it was not dialled).
    """
    marked = _mark_once(session, list(numbers), Alert.overflowed_at, clock=clock)
    dialled = {alert_id: bool(numbers[alert_id]) for alert_id in marked}
    _announce_all(
        session,
        marked,
        ALERT_OVERFLOWED,
        {alert_id: {"alert_id": alert_id, "dialled": dialled[alert_id]} for alert_id in marked},
        action="alert.overflow",
        details={alert_id: {"dialled": dialled[alert_id]} for alert_id in marked},
        clock=clock,
    )
    return list(marked)
