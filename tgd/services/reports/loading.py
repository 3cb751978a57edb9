"""Load a report's ``Dataset``: one pass of queries per scope and period, nothing decrypted.

A file's state is derived from its dates at the end of the period, never
read from today's state; canary alerts never count (R-24c); every query is
narrowed to the scope's juridictions unless the scope is national.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert, CallLeg
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.cdr import CarrierCallRecord
from tgd.db.models.incidents import Incident
from tgd.db.models.inventory import Delivery
from tgd.db.models.lines import Line, LineAssignment, LineStatusChange, Sim, Swap, Terminal
from tgd.db.models.navettes import Navette
from tgd.db.models.operations import Task
from tgd.db.models.territories import Juridiction, Territory
from tgd.domain.alerts import AlertNature, LegRole
from tgd.domain.assistance_hours import AssistanceHours
from tgd.domain.lifecycle import NavetteKind
from tgd.services.reports.dataset import (
    DEFAULT_TARGETS,
    TEST_CHASE_KIND,
    Dataset,
    Targets,
    _Alert,
    _File,
    _Line,
    _Terminal,
    seconds,
)
from tgd.services.reports.model import Scope
from tgd.services.reports.period import Period

Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


def _scoped(query: Q, column: Any, scope: Scope) -> Q:
    return query if scope.is_national else query.where(column.in_(scope.juridiction_ids))


def load(
    session: Session, scope: Scope, period: Period, *, targets: Targets = DEFAULT_TARGETS
) -> Dataset:
    """Load the anonymous rows the tables need, for the scope and period."""
    start, end = period.bounds(scope.timezone)
    zones = dict(
        session.execute(
            select(Juridiction.id, Territory.timezone).join(
                Territory, Juridiction.territory_id == Territory.id
            )
        ).all()
    )
    territory_zones = dict(session.execute(select(Territory.id, Territory.timezone)).all())
    territory_ids = set(
        session.scalars(_scoped(select(Juridiction.territory_id), Juridiction.id, scope).distinct())
    )
    hours = {
        jid: AssistanceHours(code, timezone)
        for jid, code, timezone in session.execute(
            select(Juridiction.id, Territory.code, Territory.timezone).join(
                Territory, Juridiction.territory_id == Territory.id
            )
        )
    }
    lines = _load_lines(session, scope, end)
    swap_rows = _load_swaps(session, scope, end)
    history: dict[int, list[Any]] = defaultdict(list)
    for row in swap_rows:
        history[row.line_id].append(row)
    files = _load_files(session, scope, start, end)
    lookback = start - targets.test_interval
    alerts = _load_alerts(session, scope, territory_ids, lookback, end)
    ref_to_file = {f.reference: f for f in files.values()}
    for alert in alerts:
        file = files.get(alert.file_id) if alert.file_id else None
        file = file or (ref_to_file.get(alert.reference) if alert.reference else None)
        if file is None:
            continue
        alert.file_id = file.id
        if alert.is_test_call:
            file.tests.append(alert.ringing_at)
        if alert.ringing_at >= start:
            file.calls += 1
            file.alerts += 0 if alert.is_test_call else 1
    for file in files.values():
        # The file's own record of its last test call is a known test too.
        at = file.last_test_call_at
        if at is not None and at < end and at not in file.tests:
            file.tests.append(at)
    tests_before = _last_tests_before(session, list(files), lookback)
    chased = Counter(
        session.scalars(
            select(Task.file_id).where(
                Task.kind == TEST_CHASE_KIND,
                Task.created_at >= start,
                Task.created_at < end,
                Task.file_id.is_not(None),
            )
        )
    )
    chases: Counter[int] = Counter(
        {k: v for k, v in chased.items() if k is not None and k in files}
    )
    return Dataset(
        targets=targets,
        scope=scope,
        period=period,
        start=start,
        end=end,
        tz_by_juridiction=zones,
        tz_by_territory=territory_zones,
        lines=lines,
        files=files,
        alerts=[a for a in alerts if a.ringing_at >= start],
        tests_before=tests_before,
        chases=chases,
        incidents=_load_incidents(session, scope, start, end),
        swaps=[s for s in swap_rows if start <= s.swapped_at < end],
        navettes=list(
            session.execute(
                _scoped(
                    select(
                        Navette.id,
                        Navette.received_at,
                        Navette.processed_at,
                        Navette.is_breach,
                        Navette.file_id,
                        Navette.juridiction_id,
                    ).where(
                        Navette.kind == NavetteKind.ATTRIBUTION,
                        Navette.received_at >= start,
                        Navette.received_at < end,
                    ),
                    Navette.juridiction_id,
                    scope,
                ).order_by(Navette.received_at)
            )
        ),
        cdrs=list(
            session.execute(
                _scoped(
                    select(
                        CarrierCallRecord.line_id,
                        CarrierCallRecord.direction,
                        CarrierCallRecord.counterpart_kind,
                        CarrierCallRecord.counterpart_number,
                        CarrierCallRecord.started_at,
                        CarrierCallRecord.duration_s,
                        CarrierCallRecord.status,
                    )
                    .join(Line, CarrierCallRecord.line_id == Line.id)
                    .where(
                        CarrierCallRecord.started_at >= start, CarrierCallRecord.started_at < end
                    ),
                    Line.juridiction_id,
                    scope,
                ).order_by(CarrierCallRecord.started_at)
            )
        ),
        recorded_breaches=_recorded_breaches(session, scope, territory_ids, start, end),
        hours_by_juridiction=hours,
        terminals=_load_terminals(session, lines, swap_rows),
        swap_history=history,
    )


def _load_lines(session: Session, scope: Scope, end: datetime) -> dict[int, _Line]:
    query = _scoped(
        select(
            Line.id,
            Line.juridiction_id,
            Line.msisdn,
            Line.created_at,
            Terminal.imei,
            Terminal.model,
            Sim.iccid,
            Line.terminal_id,
        )
        .outerjoin(Terminal, Line.terminal_id == Terminal.id)
        .outerjoin(Sim, Line.sim_id == Sim.id)
        .where(Line.created_at < end),
        Line.juridiction_id,
        scope,
    )
    lines = {
        row.id: _Line(
            row.id,
            row.juridiction_id,
            row.msisdn,
            row.created_at,
            row.imei,
            row.model or "",
            row.iccid,
            row.terminal_id,
        )
        for row in session.execute(query)
    }
    assignments = _scoped(
        select(
            LineAssignment.line_id,
            LineAssignment.created_at,
            LineAssignment.reference,
            LineAssignment.status,
            LineAssignment.is_current,
        )
        .join(Line, LineAssignment.line_id == Line.id)
        .order_by(LineAssignment.line_id, LineAssignment.assignment_index),
        Line.juridiction_id,
        scope,
    )
    for row in session.execute(assignments):
        if row.line_id in lines:
            lines[row.line_id].assignments.append(
                (row.created_at, row.reference, row.status, row.is_current)
            )
    # The line's status at the end of the period, from its history (exact at any date).
    changes = _scoped(
        select(LineAssignment.line_id, LineStatusChange.to_status)
        .join(LineAssignment, LineStatusChange.assignment_id == LineAssignment.id)
        .join(Line, LineAssignment.line_id == Line.id)
        .where(LineStatusChange.at < end)
        .order_by(LineStatusChange.at, LineStatusChange.id),
        Line.juridiction_id,
        scope,
    )
    for line_id, status in session.execute(changes):
        if line_id in lines:
            lines[line_id].status_at_end = status
    return lines


def _load_swaps(session: Session, scope: Scope, end: datetime) -> list[Any]:
    """Every swap of the scope's lines: the period's, and each line's history of handsets."""
    return list(
        session.execute(
            _scoped(
                select(
                    Swap.id,
                    Swap.line_id,
                    Swap.incident_id,
                    Swap.reported_at,
                    Swap.swapped_at,
                    Swap.cause,
                    Swap.under_warranty,
                    Swap.old_terminal_id,
                    Swap.new_terminal_id,
                    Line.juridiction_id,
                )
                .join(Line, Swap.line_id == Line.id)
                .where(Line.created_at < end)
                .order_by(Swap.swapped_at, Swap.id),
                Line.juridiction_id,
                scope,
            )
        )
    )


def _load_incidents(session: Session, scope: Scope, start: datetime, end: datetime) -> list[Any]:
    """The tickets reported in the period, and older ones still open at its start."""
    return list(
        session.execute(
            _scoped(
                select(
                    Incident.id,
                    Incident.kind,
                    Incident.line_id,
                    Incident.reported_at,
                    Incident.diagnosis,
                    Incident.answer,
                    Incident.resolved_at,
                    Line.juridiction_id,
                    Incident.channel,
                    Incident.reporter_kind,
                    Incident.clock_started_at,
                    Incident.deadline_at,
                    Incident.resolution,
                    Incident.under_warranty,
                    Incident.needs_swap,
                    Incident.diagnosed_at,
                )
                .outerjoin(Line, Incident.line_id == Line.id)
                .where(
                    Incident.reported_at < end,
                    or_(
                        Incident.reported_at >= start,
                        Incident.resolved_at.is_(None),
                        Incident.resolved_at >= start,
                    ),
                )
                .order_by(Incident.reported_at, Incident.id),
                Line.juridiction_id,
                scope,
            )
        )
    )


def _load_terminals(
    session: Session, lines: dict[int, _Line], swaps: list[Any]
) -> dict[int, _Terminal]:
    """The handsets that served the scope's lines: current ones and those swapped."""
    ids = {line.terminal_id for line in lines.values() if line.terminal_id is not None}
    ids |= {s.old_terminal_id for s in swaps if s.old_terminal_id is not None}
    ids |= {s.new_terminal_id for s in swaps}
    found: dict[int, _Terminal] = {}
    for chunk in _chunks(sorted(ids), 900):
        query = (
            select(
                Terminal.id,
                Terminal.imei,
                Terminal.model,
                Terminal.warranty_end,
                func.coalesce(Delivery.imported_at, Terminal.created_at),
            )
            .outerjoin(Delivery, Terminal.delivery_id == Delivery.id)
            .where(Terminal.id.in_(chunk))
        )
        for row in session.execute(query):
            found[row[0]] = _Terminal(row[0], row[1], row[2] or "", row[3], row[4])
    return found


def _load_files(session: Session, scope: Scope, start: datetime, end: datetime) -> dict[int, _File]:
    query = _scoped(
        select(
            BeneficiaryFile.id,
            BeneficiaryFile.number,
            BeneficiaryFile.juridiction_id,
            LineAssignment.line_id,
            LineAssignment.reference,
            BeneficiaryFile.created_at,
            BeneficiaryFile.commissioned_at,
            BeneficiaryFile.termination_requested_at,
            BeneficiaryFile.closed_at,
            BeneficiaryFile.last_test_call_at,
        )
        .join(LineAssignment, BeneficiaryFile.assignment_id == LineAssignment.id)
        .where(
            BeneficiaryFile.created_at < end,
            or_(BeneficiaryFile.closed_at.is_(None), BeneficiaryFile.closed_at >= start),
        )
        .order_by(LineAssignment.reference),
        BeneficiaryFile.juridiction_id,
        scope,
    )
    return {row.id: _File(*row) for row in session.execute(query)}


def _load_alerts(
    session: Session, scope: Scope, territory_ids: set[int], start: datetime, end: datetime
) -> list[_Alert]:
    bridge_lost = getattr(Alert, "bridge_lost_at", None)
    query = (
        select(
            Alert.id,
            Alert.line_id,
            Alert.file_id,
            Alert.reference,
            Line.juridiction_id,
            Alert.territory_id,
            Alert.nature,
            Alert.orientation,
            Alert.is_test,
            Alert.ringing_at,
            Alert.answered_at,
            Alert.claimed_at,
            Alert.police_called_at,
            Alert.ended_at,
            Alert.non_compliance_cause,
            Alert.overflowed_at.is_not(None),
            bridge_lost.is_not(None) if bridge_lost is not None else Alert.id.is_(None),
            Alert.restricted_channel,
        )
        .outerjoin(Line, Alert.line_id == Line.id)
        .where(
            Alert.ringing_at >= start,
            Alert.ringing_at < end,
            Alert.is_canary.is_(False),  # R-24c: canaries never count
            Alert.nature != AlertNature.CANARI,
        )
        .order_by(Alert.ringing_at, Alert.id)
    )
    if scope.kind == "juridiction":
        query = query.where(Line.juridiction_id.in_(scope.juridiction_ids))
    elif scope.kind == "departement":
        query = query.where(
            or_(
                Line.juridiction_id.in_(scope.juridiction_ids),
                and_(Alert.line_id.is_(None), Alert.territory_id.in_(territory_ids)),
            )
        )
    alerts = [_Alert(*cast(tuple[Any, ...], row)) for row in session.execute(query)]
    durations = dict(
        session.execute(
            select(CallLeg.alert_id, func.max(CallLeg.duration_s))
            .join(Alert, CallLeg.alert_id == Alert.id)
            .where(
                CallLeg.role == LegRole.CALLER,
                Alert.ringing_at >= start,
                Alert.ringing_at < end,
                CallLeg.duration_s.is_not(None),
            )
            .group_by(CallLeg.alert_id)
        ).all()
    )
    for alert in alerts:
        alert.duration_s = durations.get(alert.id)
        if alert.duration_s is None:
            alert.duration_s = seconds(alert.answered_at or alert.ringing_at, alert.ended_at)
    return alerts


def _last_tests_before(
    session: Session, file_ids: list[int], before: datetime
) -> dict[int, datetime]:
    if not file_ids:
        return {}
    found: dict[int, datetime] = {}
    for chunk in _chunks(file_ids, 900):
        query = (
            select(Alert.file_id, func.max(Alert.ringing_at))
            .where(
                Alert.file_id.in_(chunk),
                Alert.ringing_at < before,
                or_(Alert.is_test.is_(True), Alert.nature == AlertNature.ESSAI),
                Alert.is_canary.is_(False),
            )
            .group_by(Alert.file_id)
        )
        for file_id, at in session.execute(query):
            if file_id is not None and at is not None:
                found[file_id] = at
    return found


def _recorded_breaches(
    session: Session, scope: Scope, territory_ids: set[int], start: datetime, end: datetime
) -> Counter[str]:
    """Count the breaches the schedules recorded (R-32), when that register exists."""
    from tgd.db.models import operations

    model = getattr(operations, "ServiceLevelBreach", None)
    if model is None:
        return Counter()
    # CCP VIII.5: an exempted breach is counted apart, with its documented cause.
    query = select(model.kind, model.exemption_cause, func.count()).where(
        model.started_at >= start, model.started_at < end
    )
    if not scope.is_national:
        query = query.where(
            or_(
                model.juridiction_id.in_(scope.juridiction_ids),
                and_(model.juridiction_id.is_(None), model.territory_id.in_(territory_ids)),
            )
        )
    rows = session.execute(query.group_by(model.kind, model.exemption_cause)).all()
    return Counter({(f"{kind}|{cause}" if cause else kind): int(n) for kind, cause, n in rows})


def _chunks(values: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]
