"""Unclaimed alerts (R-23, R-23b): escalate at 10 s, overflow to the backup line at 30 s.

``run_escalation`` is a catch-up pass, safe to run every second from any
number of processes: each alert is escalated or overflowed once (conditional
UPDATEs in ``handling``). Overflow dials the territory's backup centre (or the
configured overflow number) into the alert's bridge, so the caller is never
left alone.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from tgd.db.models.territories import Territory
from tgd.db.session import write_transaction
from tgd.ports import Clock, Telephony, TelephonyError
from tgd.services import dispatch, handling
from tgd.settings import Settings

log = logging.getLogger(__name__)


def run_escalation(
    sessions: sessionmaker[Session],
    *,
    settings: Settings,
    telephony: Telephony | None,
    callbacks: dispatch.Callbacks,
    clock: Clock,
) -> tuple[int, int]:
    """Escalate and overflow what is due; return (escalated, overflowed)."""
    with sessions() as reader:  # a cheap look first: the write lock is taken only when needed
        overflow_due = handling.overflow_candidates(
            reader, after_seconds=settings.alerts.overflow_after_seconds, clock=clock
        )
        escalation_due = handling.escalate_due(
            reader, after_seconds=settings.alerts.escalate_after_seconds, clock=clock, dry_run=True
        )
    escalated: list[int] = []
    if escalation_due:
        with write_transaction(sessions) as session:
            escalated = handling.escalate_due(
                session, after_seconds=settings.alerts.escalate_after_seconds, clock=clock
            )
    overflowed = 0
    if not overflow_due:
        return len(escalated), 0
    with write_transaction(sessions) as session:
        due = handling.overflow_candidates(
            session, after_seconds=settings.alerts.overflow_after_seconds, clock=clock
        )
        for alert in due:
            territory = session.get(Territory, alert.territory_id) if alert.territory_id else None
            number = (
                territory.backup_number if territory else None
            ) or settings.alerts.overflow_number
            if not handling.mark_overflowed(session, alert, number_known=bool(number), clock=clock):
                continue
            overflowed += 1
            if number and telephony is not None:
                try:
                    dispatch.join_operator(
                        session,
                        alert,
                        number=number,
                        user_id=None,
                        telephony=telephony,
                        gateway=settings.gateway,
                        callbacks=callbacks,
                        clock=clock,
                    )
                except TelephonyError:
                    log.exception("alert=%s overflow dial failed", alert.id)
            else:
                log.error("alert=%s unclaimed past overflow delay and no backup number", alert.id)
    return len(escalated), overflowed
