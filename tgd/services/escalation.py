"""Unclaimed alerts (R-23, R-23b): escalate at 10 s, overflow to the backup line at 30 s.

``run_escalation`` is a catch-up pass, run every second by the scheduler's
leader (E-06: one process at a time, the ``escalation`` job), and safe to run
more often or from several places: each alert is escalated or overflowed once
(conditional UPDATEs in ``handling``). Overflow dials the territory's backup
centre (or the configured overflow number) into the alert's bridge, so the
caller is never left alone; its leg has the ``overflow`` role, so an operator's
hand-over never hangs it up.

Under the write discipline (``tgd.db.writes``) a pass is a few short
transactions of at most ``BATCH`` alerts each, so an alert arriving meanwhile
waits for one batch at most; the carrier is called between transactions, never
inside one: the overflow legs are recorded first (``dispatch.prepare_overflows``),
then dialled and completed with the carrier's call ids, or marked ``failed``
(``dispatch.complete_dials``). The batch that escalates alerts records their
unclaimed-alert breaches (R-32) with them (``service_levels.record_escalated``).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager

from sqlalchemy.orm import Session, sessionmaker

from tgd.db.models.alerts import Alert
from tgd.db.models.territories import Territory
from tgd.db.session import preload
from tgd.db.writes import Priority, write_transaction
from tgd.ports import Clock, Telephony
from tgd.services import dispatch, handling, service_levels
from tgd.settings import Settings

log = logging.getLogger(__name__)
BATCH = 20  # alerts per write transaction


def run_escalation(
    sessions: sessionmaker[Session],
    *,
    settings: Settings,
    telephony: Telephony | None,
    callbacks: dispatch.Callbacks,
    clock: Clock,
) -> tuple[int, int]:
    """Escalate and overflow what is due; return (escalated, overflowed)."""
    alerts = settings.alerts
    with sessions() as reader:  # a cheap look first: the write gate is taken only when needed
        escalation_due = handling.escalate_due(
            reader, after_seconds=alerts.escalate_after_seconds, clock=clock, dry_run=True
        )
        overflow_due = [
            a.id
            for a in handling.overflow_candidates(
                reader, after_seconds=alerts.overflow_after_seconds, clock=clock
            )
        ]
    escalated = 0
    for batch in _batches(escalation_due):
        with _writer(sessions) as session:
            now_escalated = handling.escalate_ids(session, batch, clock=clock)
            service_levels.record_escalated(
                session, now_escalated, settings=settings, now=clock.now()
            )
            escalated += len(now_escalated)
    dials: list[dispatch.PendingDial] = []
    overflowed = 0
    for batch in _batches(overflow_due):
        with _writer(sessions) as session:
            marked, batch_dials = _overflow_batch(session, batch, settings=settings, clock=clock)
            overflowed += marked
            dials.extend(batch_dials)
    if dials and telephony is not None:
        dispatch.complete_dials(
            sessions,
            dials,
            telephony=telephony,
            gateway=settings.gateway,
            callbacks=callbacks,
            clock=clock,
        )
    return escalated, overflowed


def _batches(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]


def _writer(sessions: sessionmaker[Session]) -> AbstractContextManager[Session]:
    return write_transaction(sessions, priority=Priority.PEOPLE, label="escalation")


def _overflow_batch(
    session: Session, batch: list[int], *, settings: Settings, clock: Clock
) -> tuple[int, list[dispatch.PendingDial]]:
    """Mark a batch of alerts overflowed; return how many were ours, and the calls to place."""
    loaded = {alert.id: alert for alert in preload(session, Alert, batch)}
    alerts = [loaded[alert_id] for alert_id in batch if alert_id in loaded]
    territories = preload(session, Territory, (alert.territory_id for alert in alerts))
    backup = {territory.id: territory.backup_number for territory in territories}
    fallback = settings.alerts.overflow_number
    numbers = {a.id: backup.get(a.territory_id or 0) or fallback or None for a in alerts}
    marked = handling.overflow_ids(session, numbers, clock=clock)
    targets = []
    for alert_id in marked:
        number = numbers[alert_id]
        if number:
            targets.append((loaded[alert_id], number))
        else:
            log.error("alert=%s unclaimed past overflow delay and no backup number", alert_id)
    return len(marked), dispatch.prepare_overflows(session, targets, clock=clock)
