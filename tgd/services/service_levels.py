"""Service-level clocks (R-32): navette to file in 15 minutes, swap in 24 hours, unclaimed alerts.

The swap clock (R-18) counts the assistance centre's opening hours of the
line's territory, not calendar hours: CCP X.4 ("précisions relatives aux
délais") says chantier 1 runs on working periods, Monday to Saturday 9:00 to
18:00 local time except public holidays, and Annexe 2 I.4 gives the swap "un
délai maximum de 24 heures" within it. A fault reported outside those hours
starts its clock at the next opening; delays are opening seconds, as in the
committee reports (``tgd.domain.assistance_hours``). Only swaps under warranty
are bound by it; a handset known to be out of warranty is not clocked.

``check_service_levels`` is a catch-up query (E-06): it looks at everything
whose clock ran out up to now — still running past its deadline, or finished
late — and records one ``ServiceLevelBreach`` per subject (unique on kind,
subject type and id, so the job is idempotent), then fills in the final
delay of breaches whose subject has since been done. Breaches carry the
reference and figures only, never personal data; supervisors see them and
the reports count them (``count_breaches``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import islice
from typing import Any, cast

from sqlalchemy import Table, func, insert, or_, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from tgd.calls_first import let_calls_pass
from tgd.db.batch_rows import execute_rows
from tgd.db.models.alerts import Alert
from tgd.db.models.incidents import Incident, TicketStatus
from tgd.db.models.lines import Line, LineAssignment, Swap
from tgd.db.models.navettes import Navette
from tgd.db.models.operations import ServiceLevelBreach
from tgd.db.models.territories import Juridiction, Territory
from tgd.db.session import preload
from tgd.domain.assistance_hours import AssistanceHours
from tgd.domain.errors import N_
from tgd.domain.lifecycle import NavetteKind
from tgd.ports import Clock
from tgd.services.faults import SWAP_FAULTS
from tgd.settings import Settings

log = logging.getLogger(__name__)

NAVETTE = "navette_15min"
SWAP = "swap_24h"
UNCLAIMED = "alerte_non_prise"
_BREACHES = cast(Table, ServiceLevelBreach.__table__)
_INSERT_BREACH = insert(_BREACHES)
# PostgreSQL: the escalation and the job may record the same alert's breach in two
# transactions at once, each having checked it unknown; the second one's row is left out
# instead of failing its transaction (an escalation batch with it). SQLite has one writer
# at a time: the check inside the write transaction is enough there.
_PG_INSERT_BREACH = pg_insert(_BREACHES).on_conflict_do_nothing(
    index_elements=[_BREACHES.c.kind, _BREACHES.c.subject_type, _BREACHES.c.subject_id]
)
_CHUNK = 500  # subject ids per query (SQLite allows 32,766 parameters)
_READ_CHUNK = 250  # alerts read between two steps aside for the calls being taken
KIND_LABELS = {
    NAVETTE: N_("Fiche créée plus de 15 minutes après la navette"),
    SWAP: N_("Échange de terminal au-delà de 24 heures ouvrées"),
    UNCLAIMED: N_("Alerte non prise en charge à temps"),
}


@dataclass(frozen=True)
class Clocked:
    """One subject whose clock is checked."""

    kind: str
    subject_type: str
    subject_id: int
    started_at: datetime
    ended_at: datetime | None
    limit: timedelta
    territory_id: int | None
    juridiction_id: int | None
    reference: str | None
    deadline_at: datetime | None = None  # when the limit is not plain elapsed time
    hours: AssistanceHours | None = None  # delays measured in opening hours
    is_bound: bool = True  # False: the deadline does not apply (no new breach is recorded)

    @property
    def deadline(self) -> datetime:
        """Return the instant the clock runs out."""
        return self.deadline_at or self.started_at + self.limit

    def delay(self, ended_at: datetime) -> int:
        """Return the delay in seconds: opening seconds for a swap, elapsed ones otherwise."""
        if self.hours is not None:
            return int(self.hours.opening_time_between(self.started_at, ended_at).total_seconds())
        return int((ended_at - self.started_at).total_seconds())


@dataclass(frozen=True)
class LevelsRun:
    """What one run did."""

    recorded: int
    finished: int

    def __add__(self, other: LevelsRun) -> LevelsRun:
        return LevelsRun(self.recorded + other.recorded, self.finished + other.finished)


def _late(item: Clocked, now: datetime) -> bool:
    return (item.ended_at or now) > item.deadline


def _since(column: Any, since: datetime | None) -> Any:
    # Catch-up window: subjects still running, or finished since the last covered instant.
    return true() if since is None else or_(column.is_(None), column >= since)


def _navettes(
    session: Session, settings: Settings, now: datetime, since: datetime | None
) -> Iterable[Clocked]:
    limit = timedelta(minutes=settings.retention.navette_deadline_minutes)
    rows = session.execute(
        select(Navette, Juridiction.territory_id)
        .join(Juridiction, Juridiction.id == Navette.juridiction_id)
        .where(
            Navette.kind == NavetteKind.ATTRIBUTION,
            Navette.received_at.is_not(None),
            Navette.received_at < now - limit,
            _since(Navette.processed_at, since),
        )
    ).all()
    for navette, territory_id in rows:
        assert navette.received_at is not None
        yield Clocked(
            NAVETTE,
            "navette",
            navette.id,
            navette.received_at,
            navette.processed_at,
            limit,
            territory_id,
            navette.juridiction_id,
            None,
        )


def _swaps(
    session: Session, settings: Settings, now: datetime, since: datetime | None
) -> Iterable[Clocked]:
    hours_limit = settings.retention.swap_deadline_hours
    limit = timedelta(hours=hours_limit)
    territory = (Line.juridiction_id, Territory.id, Territory.code, Territory.timezone)
    # Swaps recorded without a ticket (``tgd lines swap``, the administration page); a swap
    # made for a ticket is measured on its ticket, once. 24 opening hours never end sooner
    # than 24 calendar hours: ``reported_at < now - limit`` is a cheap first filter.
    for swap, juridiction_id, territory_id, code, timezone in session.execute(
        select(Swap, *territory)
        .join(Line, Line.id == Swap.line_id)
        .join(Juridiction, Juridiction.id == Line.juridiction_id)
        .join(Territory, Territory.id == Juridiction.territory_id)
        .where(
            Swap.incident_id.is_(None),
            Swap.reported_at < now - limit,
            _since(Swap.swapped_at, since),
        )
    ).all():
        hours = AssistanceHours(code, timezone)
        start = hours.clock_start(swap.reported_at)
        yield Clocked(
            SWAP,
            "swap",
            swap.id,
            start,
            swap.swapped_at,
            limit,
            territory_id,
            juridiction_id,
            _reference(session, swap.line_id),
            deadline_at=hours.add_opening_hours(start, hours_limit),
            hours=hours,
            is_bound=swap.under_warranty is not False,
        )
    for incident, swapped_at, juridiction_id, territory_id, code, timezone in session.execute(
        select(Incident, Swap.swapped_at, *territory)
        .join(Line, Line.id == Incident.line_id)
        .join(Juridiction, Juridiction.id == Line.juridiction_id)
        .join(Territory, Territory.id == Juridiction.territory_id)
        .outerjoin(Swap, Swap.incident_id == Incident.id)
        .where(
            or_(Incident.kind.in_(SWAP_FAULTS), Swap.id.is_not(None)),
            Incident.reported_at < now - limit,
            _since(func.coalesce(Incident.resolved_at, Swap.swapped_at), since),
        )
    ).all():
        hours = AssistanceHours(code, timezone)
        start = incident.clock_started_at or hours.clock_start(incident.reported_at)
        ended = incident.resolved_at or swapped_at
        if ended is None and incident.status is TicketStatus.RESOLU:
            ended = incident.reported_at  # closed without a date (older records)
        yield Clocked(
            SWAP,
            "incident",
            incident.id,
            start,
            ended,
            limit,
            territory_id,
            juridiction_id,
            _reference(session, incident.line_id),
            deadline_at=incident.deadline_at or hours.add_opening_hours(start, hours_limit),
            hours=hours,
            # no swap needed (advice, nothing found) or out of warranty: not bound.
            is_bound=incident.needs_swap is not False and incident.under_warranty is not False,
        )


def _unclaimed_limit(settings: Settings) -> timedelta:
    # R-32's limit for an unclaimed alert is R-23's escalation delay.
    return timedelta(seconds=settings.alerts.escalate_after_seconds)


def _late_alerts(limit: timedelta, now: datetime) -> Any:
    """Select the columns of the alerts whose unclaimed clock ran out (canaries never count)."""
    # Columns, not entities: after a burst this reads thousands of alerts every minute.
    return (
        select(
            Alert.id,
            Alert.ringing_at,
            Alert.claimed_at,
            Alert.closed_at,
            Alert.territory_id,
            Alert.reference,
            Line.juridiction_id,
        )
        .join(Line, Line.id == Alert.line_id, isouter=True)
        .where(
            Alert.is_canary.is_(False),  # R-24c
            Alert.ringing_at < now - limit,
        )
    )


def _alert_clock(row: Any, limit: timedelta) -> Clocked:
    alert_id, ringing_at, claimed_at, closed_at, territory_id, reference, jur_id = row
    # Closed without a claim (the caller hung up): the clock stops at the close.
    stopped = claimed_at if claimed_at is not None else closed_at
    return Clocked(
        UNCLAIMED, "alert", alert_id, ringing_at, stopped, limit, territory_id, jur_id, reference
    )


def _alerts(
    session: Session,
    settings: Settings,
    now: datetime,
    since: datetime | None,
    *,
    unrecorded: bool = False,
) -> Iterable[Clocked]:
    """Yield the unclaimed-alert clocks run out; ``unrecorded``: not those a breach already
    covers while they still ring (the job has nothing to write for them)."""
    ended = func.coalesce(Alert.claimed_at, Alert.closed_at)
    limit = _unclaimed_limit(settings)
    query = _late_alerts(limit, now).where(_since(ended, since)).order_by(Alert.id)
    if unrecorded:
        # After a burst, thousands of alerts ring unclaimed for minutes: each run read them
        # all again, with a Python object each, for nothing to write (docs/gateway.md).
        recorded = (
            select(ServiceLevelBreach.id)
            .where(
                ServiceLevelBreach.kind == UNCLAIMED,
                ServiceLevelBreach.subject_type == "alert",
                ServiceLevelBreach.subject_id == Alert.id,
            )
            .exists()
        )
        query = query.where(or_(ended.is_not(None), ~recorded))
    # Closed on an early exit too (PostgreSQL reads a chunk at a time by a server cursor).
    with session.execute(query, execution_options={"yield_per": _READ_CHUNK}) as result:
        for rows in result.partitions():
            for row in rows:
                yield _alert_clock(row, limit)
            # The run after a burst reads its thousands of new alerts a chunk at a time,
            # each after the calls being taken (tgd.calls_first): read at once, they held
            # the GIL long enough to delay the calls of that moment by 20-30 ms.
            let_calls_pass()


def record_escalated(
    session: Session, alert_ids: Sequence[int], *, settings: Settings, now: datetime
) -> int:
    """Record the unclaimed-alert breach of alerts just escalated, in the caller's write
    transaction; return how many were recorded.

    R-32's limit for an unclaimed alert is R-23's escalation delay: the clock that ran out
    is the one the escalation acts on, so the escalation pass records the breach with the
    escalation, 20 alerts at a time. The job stays the catch-up (an alert claimed before
    any pass escalated it, a pass that failed). Recorded by the job alone, a burst's
    breaches came 2,200 at once each minute, and the calls of that moment waited for them.
    """
    if not alert_ids:
        return 0
    limit = _unclaimed_limit(settings)
    rows = session.execute(_late_alerts(limit, now).where(Alert.id.in_(alert_ids))).all()
    items = [item for item in (_alert_clock(row, limit) for row in rows) if _late(item, now)]
    return _record(session, items, now)


def _reference(session: Session, line_id: int | None) -> str | None:
    if line_id is None:
        return None
    return session.scalar(
        select(LineAssignment.reference).where(
            LineAssignment.line_id == line_id, LineAssignment.is_current.is_(True)
        )
    )


@dataclass(frozen=True)
class LevelsPlan:
    """What a run must write, found by reading only (``plan_service_levels``).

    ``to_finish``: open breaches (by id) whose subject is now done; ``to_record``: late
    subjects that may have no breach yet (checked again when written, see ``apply``).
    """

    now: datetime
    to_finish: list[tuple[int, Clocked]]
    to_record: list[Clocked]

    def batches(self, size: int) -> Iterator[LevelsPlan]:
        """Split the plan into parts of at most ``size`` writes each (short transactions)."""
        for start in range(0, len(self.to_finish), size):
            yield LevelsPlan(self.now, self.to_finish[start : start + size], [])
        for start in range(0, len(self.to_record), size):
            yield LevelsPlan(self.now, [], self.to_record[start : start + size])


def plan_service_levels(
    session: Session, *, settings: Settings, since: datetime | None, now: datetime
) -> LevelsPlan:
    """Find, reading only, the breaches to record and the open ones to complete."""
    to_finish: list[tuple[int, Clocked]] = []
    to_record: list[Clocked] = []
    unrecorded_alerts = partial(_alerts, unrecorded=True)
    for source in (_navettes, _swaps, unrecorded_alerts):
        items = iter(source(session, settings, now, since))
        # The open breaches of each chunk's subjects, not all of them: after a burst,
        # thousands stay open for minutes, and reading them all made each run a burst.
        while chunk := list(islice(items, _READ_CHUNK)):
            open_breaches = _breaches_of(session, chunk, open_only=True)
            for item in chunk:
                breach_id = open_breaches.get((item.kind, item.subject_type, item.subject_id))
                if breach_id is not None:
                    if item.ended_at is not None:
                        to_finish.append((breach_id, item))
                elif item.is_bound and _late(item, now):
                    to_record.append(item)
    return LevelsPlan(now, to_finish, to_record)


def apply(session: Session, plan: LevelsPlan) -> LevelsRun:
    """Write a plan (or a batch of one) in the caller's write transaction; idempotent.

    A breach completed or recorded meanwhile (another run, another process) is left as
    it is: completion only touches breaches still open, recording skips known subjects.
    """
    finished = 0
    wanted = (breach_id for breach_id, _ in plan.to_finish)
    breaches = {b.id: b for b in preload(session, ServiceLevelBreach, wanted)}
    for breach_id, item in plan.to_finish:
        breach = breaches.get(breach_id)
        if breach is not None and breach.ended_at is None:
            _finish(breach, item)
            finished += 1
    recorded = _record(session, plan.to_record, plan.now)
    if recorded or finished:
        log.info("service levels: %s breach(es) recorded, %s completed", recorded, finished)
    return LevelsRun(recorded=recorded, finished=finished)


def _record(session: Session, items: Sequence[Clocked], now: datetime) -> int:
    """Insert the breaches of ``items`` not recorded yet; return how many."""
    known = _known(session, items)
    rows: list[dict[str, Any]] = []
    for item in items:
        key = (item.kind, item.subject_type, item.subject_id)
        if key in known:
            continue  # recorded by an earlier run, or by the escalation
        known.add(key)  # a subject the queries yield twice is recorded once
        rows.append(_breach_row(item, now))
        if item.kind == NAVETTE:
            navette = session.get(Navette, item.subject_id)
            if navette is not None:
                navette.is_breach = True  # the navette's own flag, for its screens
    session.flush()
    # One statement for the new breaches, without an ORM object each: after a burst a run
    # records thousands, each batch holding the write gate (tgd.db.writes).
    connection = session.connection()
    postgresql = connection.dialect.name == "postgresql"
    execute_rows(connection, _PG_INSERT_BREACH if postgresql else _INSERT_BREACH, rows)
    return len(rows)


def check_service_levels(
    session: Session, *, settings: Settings, since: datetime | None = None, clock: Clock
) -> LevelsRun:
    """Record every clock that ran out up to now, in one transaction (small sets, tests).

    The job reads first and writes in short batches instead (``tgd.jobs.service_levels``).
    """
    plan = plan_service_levels(session, settings=settings, since=since, now=clock.now())
    return apply(session, plan)


def clocks_running_late(
    session: Session, *, settings: Settings, since: datetime | None, now: datetime
) -> list[Clocked]:
    """Return every subject late at ``now`` (read only): what the job would record, live."""
    return [
        item
        for source in (_navettes, _swaps, _alerts)
        for item in source(session, settings, now, since)
        if _late(item, now)
    ]


def _known(session: Session, items: Sequence[Clocked]) -> set[tuple[str, str, int]]:
    """Return the keys of ``items`` that already have a breach, open or not."""
    return set(_breaches_of(session, items))


def _breaches_of(
    session: Session, items: Sequence[Clocked], *, open_only: bool = False
) -> dict[tuple[str, str, int], int]:
    """Return the breaches of ``items``' subjects by key (breach id), in a few queries.

    One query per kind of subject and chunk of ids, not one per subject: the job writes in
    a write transaction, which it must keep short (tgd.db.writes).
    """
    ids: dict[tuple[str, str], list[int]] = {}
    for item in items:
        ids.setdefault((item.kind, item.subject_type), []).append(item.subject_id)
    found: dict[tuple[str, str, int], int] = {}
    for (kind, subject_type), subject_ids in ids.items():
        for start in range(0, len(subject_ids), _CHUNK):
            query = select(ServiceLevelBreach.subject_id, ServiceLevelBreach.id).where(
                ServiceLevelBreach.kind == kind,
                ServiceLevelBreach.subject_type == subject_type,
                ServiceLevelBreach.subject_id.in_(subject_ids[start : start + _CHUNK]),
            )
            if open_only:
                query = query.where(ServiceLevelBreach.ended_at.is_(None))
            for subject_id, breach_id in session.execute(query):
                found[(kind, subject_type, subject_id)] = breach_id
    return found


def _breach_row(item: Clocked, now: datetime) -> dict[str, Any]:
    """A new breach's row (the same keys for every row: one multi-row statement)."""
    ended = item.ended_at
    return {
        "kind": item.kind,
        "subject_type": item.subject_type,
        "subject_id": item.subject_id,
        "territory_id": item.territory_id,
        "juridiction_id": item.juridiction_id,
        "reference": item.reference,
        "started_at": item.started_at,
        "deadline_at": item.deadline,
        "limit_seconds": int(item.limit.total_seconds()),
        "ended_at": ended,
        "delay_seconds": item.delay(ended) if ended is not None else None,
        "detected_at": now,
    }


def _finish(breach: ServiceLevelBreach, item: Clocked) -> None:
    assert item.ended_at is not None
    breach.ended_at = item.ended_at
    breach.delay_seconds = item.delay(item.ended_at)


def list_breaches(
    session: Session, *, kind: str | None = None, limit: int = 500
) -> list[ServiceLevelBreach]:
    """Return breaches for supervisors, newest first."""
    query = select(ServiceLevelBreach)
    if kind:
        query = query.where(ServiceLevelBreach.kind == kind)
    return list(
        session.scalars(
            query.order_by(
                ServiceLevelBreach.started_at.desc(), ServiceLevelBreach.id.desc()
            ).limit(limit)
        )
    )


def count_breaches(
    session: Session,
    start: datetime,
    end: datetime,
    *,
    juridiction_ids: Iterable[int] | None = None,
) -> dict[str, int]:
    """For the reports: breaches whose clock started in [start, end), by kind."""
    query = (
        select(ServiceLevelBreach.kind, func.count(ServiceLevelBreach.id))
        .where(ServiceLevelBreach.started_at >= start, ServiceLevelBreach.started_at < end)
        .group_by(ServiceLevelBreach.kind)
    )
    if juridiction_ids is not None:
        query = query.where(ServiceLevelBreach.juridiction_id.in_(list(juridiction_ids)))
    counts = {kind: 0 for kind in KIND_LABELS}
    counts.update({kind: int(n) for kind, n in session.execute(query).all()})
    return counts
