"""The ten committee tables of DESIGN §7 and the service-level figures, from anonymous rows.

Everything here reads columns that survive destruction (R-16): file numbers
and dates, line references, alert times, natures and orientations, call-leg
durations, incidents, swaps, navette times, imported carrier records and the
destruction register. Nothing is decrypted, so the same period gives the same
figures before and after its files are destroyed; a file's state is derived
from its dates at the end of the period, never read from today's state.
Canary alerts never count (R-24c). Times are written in each juridiction's
own time zone (R-34).
"""

from __future__ import annotations

import bisect
import functools
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert, CallLeg
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.cdr import CarrierCallRecord
from tgd.db.models.incidents import Incident, IncidentKind, TicketChannel, TicketResolution
from tgd.db.models.inventory import Delivery
from tgd.db.models.lines import Line, LineAssignment, LineStatusChange, Sim, Swap, Terminal
from tgd.db.models.navettes import Navette
from tgd.db.models.operations import Task
from tgd.db.models.territories import Juridiction, Territory
from tgd.domain import labels
from tgd.domain.alerts import AlertNature, LegRole, Orientation
from tgd.domain.assistance_hours import AssistanceHours
from tgd.domain.lifecycle import LineStatus, NavetteKind
from tgd.domain.restrictions import Channel
from tgd.services.faults import SWAP_FAULTS
from tgd.services.reports.model import Cell, Column, Scope, Table
from tgd.services.reports.period import Period

# Service-level targets, in seconds.
PICKUP_TARGET_S = 10  # R-23b: pick-up within 10 s
NAVETTE_TARGET_S = 15 * 60  # file created within 15 minutes of the navette
SWAP_TARGET_S = 24 * 3600  # swap within 24 opening hours (CCP X.4), in opening seconds
TEST_INTERVAL = timedelta(days=15)  # a test at least every 15 days (twice a month)
TESTS_PER_DAY = 2 / 30.4375  # twice a month
TEST_CHASE_KIND = "test_chase"  # the schedules' task for a late test (R-30)

# One catalogue of labels (tgd.domain.labels): reports are always in French.
NATURE_LABELS = dict(labels.NATURES)
ORIENTATION_LABELS: dict[Orientation | None, str] = {None: labels.NO_ORIENTATION}
for _orientation, _label in labels.ORIENTATIONS.items():
    ORIENTATION_LABELS[_orientation] = _label
INCIDENT_LABELS = {
    IncidentKind.PANNE_TERMINAL: "panne du terminal",
    IncidentKind.BATTERIE: "batterie",
    IncidentKind.ZONE_BLANCHE: "zone blanche",
    IncidentKind.PERTE_VOL: "perte ou vol",
    IncidentKind.RESEAU: "réseau de l'opérateur",
    IncidentKind.PLATEFORME: "plateforme de téléassistance",
    IncidentKind.AUTRE: "autre",
}
RESOLUTION_LABELS = {
    None: "",
    TicketResolution.CONSEIL: "résolu par les conseils donnés",
    TicketResolution.ECHANGE: "terminal échangé sous garantie",
    TicketResolution.ECHANGE_HORS_GARANTIE: "terminal échangé hors garantie",
    TicketResolution.SANS_SUITE: "sans suite",
}
CHANNEL_LABELS = {
    TicketChannel.PORTAIL: "portail",
    TicketChannel.TELEPHONE: "téléphone",
    TicketChannel.AUTRE: "",
}
LINE_STATUS_TEXT = {status: str(status.label) for status in LineStatus}
COUNTERPART_LABELS = {
    "centre": "centre de téléassistance",
    "urgence": "numéro d'urgence",
    "forces": "police ou gendarmerie",
    "association": "association ou parquet",
    "prive": "numéro privé (masqué)",
}
UNIDENTIFIED = "appelant non identifié"
REFUSED_LABELS = {
    Channel.VOICE: "numéro hors liste autorisée (appel refusé)",
    Channel.SMS: "numéro hors liste autorisée (SMS refusé)",
}


@functools.lru_cache(maxsize=64)
def _zone(timezone: str) -> ZoneInfo:
    return ZoneInfo(timezone)


def local(at: datetime | None, timezone: str) -> str:
    """Format an aware instant as ``JJ/MM/AAAA HH:MM`` in the given zone."""
    if at is None:
        return ""
    t = at.astimezone(_zone(timezone))  # f-string: strftime is the hot spot of a national run
    return f"{t.day:02d}/{t.month:02d}/{t.year} {t.hour:02d}:{t.minute:02d}"


def local_day(at: datetime | None, timezone: str) -> str:
    """Format an aware instant as ``JJ/MM/AAAA`` in the given zone."""
    if at is None:
        return ""
    t = at.astimezone(_zone(timezone))
    return f"{t.day:02d}/{t.month:02d}/{t.year}"


def seconds(start: datetime | None, end: datetime | None) -> int | None:
    """Return whole seconds from ``start`` to ``end``, or None when one is missing."""
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


def mask_number(number: str | None) -> str:
    """Hide a terminal's call number in committee documents, keeping its two last digits."""
    if not number:
        return ""
    return "•" * max(0, len(number) - 2) + number[-2:]


@dataclass
class _Alert:
    id: int
    line_id: int | None
    file_id: int | None
    reference: str | None
    juridiction_id: int | None
    territory_id: int | None
    nature: AlertNature
    orientation: Orientation | None
    is_test: bool
    ringing_at: datetime
    answered_at: datetime | None
    claimed_at: datetime | None
    police_called_at: datetime | None
    ended_at: datetime | None
    non_compliance_cause: str | None
    overflowed: bool
    bridge_lost: bool
    restricted_channel: Channel | None  # Annexe 2 I.1: refused, outside the allow-list
    duration_s: int | None = None
    local_ringing: str | None = None
    timezone: str | None = None

    @property
    def is_test_call(self) -> bool:
        return self.is_test or self.nature is AlertNature.ESSAI

    @property
    def is_non_compliant(self) -> bool:
        # R-27 and Annexe 2 I.1: qualified so, or refused by the gateway whatever the nature.
        return self.nature is AlertNature.NON_CONFORME or self.restricted_channel is not None

    @property
    def pickup_s(self) -> int | None:
        return seconds(self.ringing_at, self.claimed_at)

    @property
    def police_s(self) -> int | None:
        return seconds(self.claimed_at or self.answered_at, self.police_called_at)


@dataclass
class _File:
    id: int
    number: str
    juridiction_id: int
    line_id: int
    reference: str
    created_at: datetime
    commissioned_at: datetime | None
    termination_requested_at: datetime | None
    closed_at: datetime | None
    last_test_call_at: datetime | None
    tests: list[datetime] = field(default_factory=list)
    calls: int = 0
    alerts: int = 0

    @property
    def follow_start(self) -> datetime:
        return self.commissioned_at or self.created_at

    def state_at(self, end: datetime) -> str:
        """Return the file's state at ``end`` from its dates (stable after destruction)."""
        if self.closed_at is not None and self.closed_at < end:
            return "clôturé"
        if self.termination_requested_at is not None and self.termination_requested_at < end:
            return "résiliation demandée"
        if self.commissioned_at is not None and self.commissioned_at < end:
            return "attribué"
        return "en cours de mise en service"


@dataclass
class _Line:
    id: int
    juridiction_id: int
    msisdn: str
    created_at: datetime
    imei: str | None
    model: str
    iccid: str | None
    terminal_id: int | None = None
    assignments: list[tuple[datetime, str, LineStatus, bool]] = field(default_factory=list)
    status_at_end: LineStatus | None = None  # from the status history, when there is one

    def reference_at(self, at: datetime) -> str:
        """Return the reference of the assignment record current at ``at`` (R-02)."""
        if not self.assignments:
            return ""
        times = [a[0] for a in self.assignments]
        index = max(0, bisect.bisect_right(times, at) - 1)
        return self.assignments[index][1]

    @property
    def current(self) -> tuple[str, LineStatus]:
        current = [a for a in self.assignments if a[3]] or self.assignments[-1:]
        return (current[-1][1], current[-1][2]) if current else ("", LineStatus.EN_STOCK)


@dataclass(frozen=True)
class _Terminal:
    id: int
    imei: str
    model: str
    warranty_end: date | None
    delivered_at: datetime


@dataclass
class Dataset:
    """The anonymous rows of one scope and period, loaded once for every table."""

    scope: Scope
    period: Period
    start: datetime
    end: datetime
    tz_by_juridiction: dict[int, str]
    tz_by_territory: dict[int, str]
    lines: dict[int, _Line]
    files: dict[int, _File]
    alerts: list[_Alert]  # in the period, canaries excluded
    tests_before: dict[int, datetime]  # file id -> last test before the look-back window
    chases: Counter[int]
    incidents: list[Any]
    swaps: list[Any]
    navettes: list[Any]
    cdrs: list[Any]
    recorded_breaches: Counter[str]
    hours_by_juridiction: dict[int, AssistanceHours] = field(default_factory=dict)
    terminals: dict[int, _Terminal] = field(default_factory=dict)
    swap_history: dict[int, list[Any]] = field(default_factory=dict)  # line id -> its swaps
    late: list[LateTest] | None = None

    def tz(self, juridiction_id: int | None, territory_id: int | None = None) -> str:
        """Return the time zone of a juridiction (or territory), else the scope's."""
        if juridiction_id is not None and juridiction_id in self.tz_by_juridiction:
            return self.tz_by_juridiction[juridiction_id]
        if territory_id is not None and territory_id in self.tz_by_territory:
            return self.tz_by_territory[territory_id]
        return self.scope.timezone

    def hours(self, juridiction_id: int | None) -> AssistanceHours:
        """Return the assistance centre's hours on a juridiction's territory (R-18, CCP X.4)."""
        if juridiction_id is not None and juridiction_id in self.hours_by_juridiction:
            return self.hours_by_juridiction[juridiction_id]
        return AssistanceHours("75", self.scope.timezone)


Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


def _scoped(query: Q, column: Any, scope: Scope) -> Q:
    return query if scope.is_national else query.where(column.in_(scope.juridiction_ids))


def load(session: Session, scope: Scope, period: Period) -> Dataset:
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
    lookback = start - TEST_INTERVAL
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


# --- late tests (R-30) ----------------------------------------------------------------------


@dataclass(frozen=True)
class LateTest:
    """A stretch of more than 15 days without a test call, overlapping the period."""

    file_id: int
    due_at: datetime
    tested_at: datetime | None


def late_tests(data: Dataset) -> list[LateTest]:
    """Find every late-test stretch of the period's files (R-30: twice a month)."""
    if data.late is None:
        data.late = _late_tests(data)
    return data.late


def _late_tests(data: Dataset) -> list[LateTest]:
    found: list[LateTest] = []
    for file in data.files.values():
        if file.commissioned_at is None or file.commissioned_at >= data.end:
            continue  # no test is due before the file is definitively attributed
        stop = min(file.closed_at or data.end, data.end)
        last = max(file.commissioned_at, data.tests_before.get(file.id, file.commissioned_at))
        for tested in [*sorted(file.tests), None]:
            at = tested or stop
            if tested is not None and tested <= last:
                continue
            due = last + TEST_INTERVAL
            if due < at and due < stop and (tested is None or tested > data.start):
                found.append(LateTest(file.id, due, tested))
            if tested is not None:
                last = tested
    return found


# --- the ten tables -------------------------------------------------------------------------


def build_tables(data: Dataset, *, mask: bool = True) -> list[Table]:
    """Build the ten tables of DESIGN §7, anonymized (references only)."""
    late = late_tests(data)
    return [
        table_history(data, late),
        table_terminals(data, mask=mask),
        table_numbers_called(data),
        table_incidents(data),
        table_usage(data, late),
        table_followed(data),
        table_calls_received(data),
        table_natures(data),
        table_non_compliant(data),
        table_malfunctions(data),
    ]


def _ref(data: Dataset, alert: _Alert) -> str:
    if alert.reference:
        return alert.reference
    if alert.line_id is not None and alert.line_id in data.lines:
        return data.lines[alert.line_id].reference_at(alert.ringing_at)
    return UNIDENTIFIED


def _alert_tz(data: Dataset, alert: _Alert) -> str:
    if alert.timezone is None:
        alert.timezone = data.tz(alert.juridiction_id, alert.territory_id)
    return alert.timezone


def _alert_time(data: Dataset, alert: _Alert) -> str:
    """Return the alert's local ringing time, formatted once for the three tables using it."""
    if alert.local_ringing is None:
        alert.local_ringing = local(alert.ringing_at, _alert_tz(data, alert))
    return alert.local_ringing


def table_history(data: Dataset, late: list[LateTest]) -> Table:
    """Table 1: per terminal, the events of the period, flagging late tests and alerts."""
    events: list[tuple[str, datetime, str, str, str, str]] = []
    for a in data.alerts:
        tz = _alert_tz(data, a)
        if a.is_test_call:
            events.append((_ref(data, a), a.ringing_at, tz, "essai", "essai reçu", ""))
        else:
            detail = f"{NATURE_LABELS[a.nature]} ; {ORIENTATION_LABELS[a.orientation]}"
            events.append((_ref(data, a), a.ringing_at, tz, "alerte", detail, "ALERTE"))
    for lt in late:
        file = data.files[lt.file_id]
        tz = data.tz(file.juridiction_id)
        detail = (
            f"essai reçu le {local(lt.tested_at, tz)}" if lt.tested_at else "aucun essai depuis"
        )
        events.append(
            (
                file.reference,
                max(lt.due_at, data.start),
                tz,
                f"essai attendu le {local_day(lt.due_at, tz)}",
                detail,
                "ESSAI EN RETARD",
            )
        )
    for i in _reported_in_period(data):
        tz = data.tz(i.juridiction_id)
        ref = data.lines[i.line_id].reference_at(i.reported_at) if i.line_id in data.lines else ""
        events.append((ref or "—", i.reported_at, tz, "incident", INCIDENT_LABELS[i.kind], ""))
    for s in data.swaps:
        tz = data.tz(s.juridiction_id)
        ref = data.lines[s.line_id].reference_at(s.swapped_at) if s.line_id in data.lines else ""
        delay = swap_delay_s(data, s)
        events.append(
            (
                ref,
                s.swapped_at,
                tz,
                "échange de terminal",
                f"délai {delay / 3600:.1f} h ouvrées",
                "HORS DÉLAI" if is_swap_late(data, s) else "",
            )
        )
    for f in data.files.values():
        tz = data.tz(f.juridiction_id)
        if data.start <= f.follow_start < data.end:
            events.append(
                (f.reference, f.follow_start, tz, "début du suivi", f"fiche {f.number}", "")
            )
        if f.closed_at is not None and data.start <= f.closed_at < data.end:
            events.append((f.reference, f.closed_at, tz, "fin du suivi", f"fiche {f.number}", ""))
    events.sort(key=lambda e: (e[0], e[1]))
    return Table(
        "historique",
        "Historique des événements par terminal",
        "Chaque événement de la période, par référence ; les alertes et les essais non "
        "effectués dans les délais (plus de 15 jours sans essai) sont signalés.",
        [
            Column("Référence"),
            Column("Date et heure locales"),
            Column("Événement"),
            Column("Détail"),
            Column("Signalement"),
        ],
        [[ref, local(at, tz), kind, detail, flag] for ref, at, tz, kind, detail, flag in events],
        number=1,
    )


def _handsets(line: _Line, swaps: list[Any]) -> list[tuple[int | None, datetime, datetime | None]]:
    """Return the line's handsets with the span each served it (R-01: swaps keep the line)."""
    current = swaps[0].old_terminal_id if swaps else line.terminal_id
    since = line.created_at
    spans: list[tuple[int | None, datetime, datetime | None]] = []
    for swap in swaps:
        spans.append((current, since, swap.swapped_at))
        current, since = swap.new_terminal_id, swap.swapped_at
    spans.append((current, since, None))
    return spans


def table_terminals(data: Dataset, *, mask: bool) -> Table:
    """Table 2: terminals and SIMs delivered: IMEI, ICCID and call number, as they stood.

    Exact at any date: each handset that served a line during the period has its row,
    with the days it went on and came off the line (swaps, R-18), the SIM and number of
    the line (they never change, R-01) and the line's status at the end of the period.
    """
    rows: list[tuple[str, datetime, list[Cell]]] = []
    for line in data.lines.values():
        tz = data.tz(line.juridiction_id)
        status = line.status_at_end or line.current[1]
        for terminal_id, since, until in _handsets(line, data.swap_history.get(line.id, [])):
            if since >= data.end or (until is not None and until < data.start):
                continue
            terminal = data.terminals.get(terminal_id) if terminal_id is not None else None
            last = min(until, data.end) if until is not None else data.end
            reference = line.reference_at(last - timedelta(microseconds=1)) or line.current[0]
            rows.append(
                (
                    reference,
                    since,
                    [
                        reference,
                        terminal.imei if terminal else "",
                        line.iccid or "",
                        mask_number(line.msisdn) if mask else line.msisdn,
                        terminal.model if terminal else "",
                        terminal.warranty_end.strftime("%d/%m/%Y")
                        if terminal and terminal.warranty_end
                        else "",
                        local_day(terminal.delivered_at, tz) if terminal else "",
                        local_day(since, tz),
                        local_day(until, tz) if until is not None and until < data.end else "",
                        LINE_STATUS_TEXT.get(status, str(status)),
                    ],
                )
            )
    rows.sort(key=lambda r: (r[0], r[1]))
    return Table(
        "terminaux",
        "Terminaux et cartes SIM fournis",
        "Chaque terminal ayant équipé une ligne pendant la période, avec son IMEI, l'ICCID "
        "(USIM) et le numéro d'appel de la ligne, sa fin de garantie, sa livraison et les "
        "jours où il a été posé et retiré (échanges) ; statut de la ligne à la fin de la "
        "période. Dans les documents des comités, le numéro d'appel est masqué sauf ses deux "
        "derniers chiffres.",
        [
            Column("Référence"),
            Column("IMEI"),
            Column("ICCID"),
            Column("Numéro d'appel"),
            Column("Modèle"),
            Column("Fin de garantie"),
            Column("Livré le"),
            Column("Sur la ligne depuis le"),
            Column("Retiré le"),
            Column("Statut de la ligne en fin de période"),
        ],
        [cells for _ref, _at, cells in rows],
        number=2,
    )


def table_numbers_called(data: Dataset) -> Table:
    """Table 3: numbers called from each terminal, with durations."""
    rows: list[tuple[str, datetime, list[Cell]]] = []
    for a in data.alerts:
        if a.line_id is None:
            continue
        kind = "centre (essai)" if a.is_test_call else "centre (alerte)"
        called = COUNTERPART_LABELS["centre"]
        if a.restricted_channel is not None:  # Annexe 2 I.1: the number tried is never shown
            called = REFUSED_LABELS[a.restricted_channel]
            kind = "refusé (hors liste), mis en relation avec le centre"
            if a.restricted_channel is Channel.SMS:
                kind = "refusé (hors liste), non transmis"
        rows.append(
            (
                _ref(data, a),
                a.ringing_at,
                [
                    _alert_time(data, a),
                    called,
                    kind,
                    a.duration_s,
                    "passerelle TGD",
                ],
            )
        )
    for c in data.cdrs:
        if c.direction != "sortant" or c.line_id not in data.lines:
            continue
        line = data.lines[c.line_id]
        number = c.counterpart_number if c.counterpart_kind != "prive" else ""
        rows.append(
            (
                line.reference_at(c.started_at),
                c.started_at,
                [
                    local(c.started_at, data.tz(line.juridiction_id)),
                    number or COUNTERPART_LABELS.get(c.counterpart_kind, c.counterpart_kind),
                    COUNTERPART_LABELS.get(c.counterpart_kind, c.counterpart_kind),
                    c.duration_s,
                    "relevé de l'opérateur",
                ],
            )
        )
    rows.sort(key=lambda r: (r[0], r[1]))
    return Table(
        "numeros_appeles",
        "Numéros appelés depuis chaque terminal",
        "Appels passés par chaque terminal et leur durée : appels au centre (passerelle) et "
        "relevés de l'opérateur ; un numéro de particulier n'est jamais montré.",
        [
            Column("Référence"),
            Column("Date et heure locales"),
            Column("Numéro appelé"),
            Column("Correspondant"),
            Column("Durée (s)", "int"),
            Column("Source"),
        ],
        [[ref, *cells] for ref, _at, cells in rows],
        number=3,
    )


def _reported_in_period(data: Dataset) -> list[Any]:
    return [i for i in data.incidents if i.reported_at >= data.start]


def swap_delay_s(data: Dataset, swap: Any) -> int:
    """Return a swap's delay in opening seconds of its territory (R-18, CCP X.4)."""
    hours = data.hours(swap.juridiction_id)
    return int(hours.opening_time_between(swap.reported_at, swap.swapped_at).total_seconds())


def _swap_deadline(data: Dataset, juridiction_id: int | None, reported_at: datetime) -> datetime:
    return data.hours(juridiction_id).add_opening_hours(reported_at, SWAP_TARGET_S / 3600)


def is_swap_late(data: Dataset, swap: Any) -> bool:
    """Tell whether a swap under warranty came after its 24 opening hours (R-18)."""
    if swap.under_warranty is False:
        return False  # out of warranty: the delay of the financial annex applies
    return bool(swap.swapped_at > _swap_deadline(data, swap.juridiction_id, swap.reported_at))


def _is_ticket_overdue(data: Dataset, incident: Any, swap: Any | None) -> bool:
    """Tell whether a ticket still waited for its swap past the deadline at the period's end."""
    if swap is not None or incident.kind not in SWAP_FAULTS:
        return False
    if incident.needs_swap is False or incident.under_warranty is False:
        return False
    if incident.resolved_at is not None and incident.resolved_at < data.end:
        return False
    deadline = incident.deadline_at or _swap_deadline(
        data, incident.juridiction_id, incident.reported_at
    )
    return bool(deadline < data.end)


def _swaps_by_incident(data: Dataset) -> dict[int, Any]:
    return {
        s.incident_id: s
        for swaps in data.swap_history.values()
        for s in swaps
        if s.incident_id is not None and s.swapped_at < data.end
    }


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("oui" if value else "non")


def table_incidents(data: Dataset) -> Table:
    """Table 4: incidents and the answers given, with swap delays and causes.

    Delays are counted in the assistance centre's opening hours of the line's territory
    (Monday–Saturday 9:00–18:00, local public holidays excepted: CCP X.4), from the
    report; a report received outside them starts its clock at the next opening.
    """
    swaps_by_incident = _swaps_by_incident(data)
    rows: list[list[Cell]] = []
    for i in data.incidents:
        tz = data.tz(i.juridiction_id)
        hours = data.hours(i.juridiction_id)
        swap = swaps_by_incident.get(i.id)
        ref = data.lines[i.line_id].reference_at(i.reported_at) if i.line_id in data.lines else ""
        resolved = i.resolved_at if i.resolved_at is not None and i.resolved_at < data.end else None
        started = i.clock_started_at or hours.clock_start(i.reported_at)
        late = (swap is not None and is_swap_late(data, swap)) or _is_ticket_overdue(data, i, swap)
        # Exact at the end of the period: a diagnosis made later is not shown yet.
        diagnosed = i.diagnosed_at is None or i.diagnosed_at < data.end
        rows.append(
            [
                ref or "—",
                local(i.reported_at, tz),
                CHANNEL_LABELS.get(i.channel, ""),
                i.reporter_kind or "",
                local(started, tz),
                INCIDENT_LABELS[i.kind],
                (i.diagnosis or "") if diagnosed else "",
                (i.answer or "") if diagnosed else "",
                RESOLUTION_LABELS.get(i.resolution, "")
                if resolved
                else "en cours en fin de période",
                local(resolved, tz),
                _hours(int(hours.opening_time_between(i.reported_at, resolved).total_seconds()))
                if resolved
                else None,
                _yes_no(swap.under_warranty if swap is not None else i.under_warranty),
                _hours(swap_delay_s(data, swap)) if swap is not None else None,
                "oui" if late else ("non" if swap is not None else ""),
                swap.cause if swap is not None else "",
            ]
        )
    reported = {i.id for i in data.incidents}
    for s in data.swaps:
        if s.incident_id is not None and s.incident_id in reported:
            continue
        tz = data.tz(s.juridiction_id)
        hours = data.hours(s.juridiction_id)
        ref = data.lines[s.line_id].reference_at(s.swapped_at) if s.line_id in data.lines else ""
        delay = _hours(swap_delay_s(data, s))
        rows.append(
            [
                ref,
                local(s.reported_at, tz),
                "",
                "",
                local(hours.clock_start(s.reported_at), tz),
                "échange de terminal",
                "",
                "terminal remplacé",
                "terminal échangé",
                local(s.swapped_at, tz),
                delay,
                _yes_no(s.under_warranty),
                delay,
                "oui" if is_swap_late(data, s) else "non",
                s.cause or "",
            ]
        )
    return Table(
        "incidents",
        "Incidents et réponses apportées",
        "Pannes signalées au centre d'assistance (et celles encore ouvertes au début de la "
        "période) : canal, auteur du signalement, début du délai (l'ouverture suivante quand "
        "le signalement arrive hors des heures d'ouverture), diagnostic, conseils donnés, "
        "issue et, le cas échéant, délai de remplacement du terminal et sa cause. Les délais "
        "sont en heures ouvrées du territoire (lundi–samedi 9 h–18 h, hors jours fériés "
        "locaux, CCP X.4) ; objectif : échange sous garantie en 24 heures ouvrées.",
        [
            Column("Référence"),
            Column("Signalé le"),
            Column("Canal"),
            Column("Signalé par"),
            Column("Délai compté à partir du"),
            Column("Type"),
            Column("Diagnostic"),
            Column("Conseils donnés"),
            Column("Issue"),
            Column("Résolu le"),
            Column("Délai de résolution (h ouvrées)", "float"),
            Column("Sous garantie"),
            Column("Délai d'échange (h ouvrées)", "float"),
            Column("Hors délai"),
            Column("Cause"),
        ],
        rows,
        number=4,
    )


def _hours(value: int | None) -> float | None:
    return None if value is None else round(value / 3600, 1)


def _overlap_days(data: Dataset, file: _File) -> float:
    start = max(file.follow_start, data.start)
    stop = min(file.closed_at or data.end, data.end)
    return max(0.0, (stop - start).total_seconds() / 86400)


def table_usage(data: Dataset, late: list[LateTest]) -> Table:
    """Table 5: usage rate per user: calls, tests done against tests due, per month followed."""
    late_count = Counter(lt.file_id for lt in late)
    rows: list[list[Cell]] = []
    for f in sorted(data.files.values(), key=lambda x: x.reference):
        days = _overlap_days(data, f)
        tests = sum(1 for t in f.tests if data.start <= t < data.end)
        due_days = (
            max(
                0.0,
                (
                    min(f.closed_at or data.end, data.end) - max(f.commissioned_at, data.start)
                ).total_seconds()
                / 86400,
            )
            if f.commissioned_at
            else 0.0
        )
        expected = round(due_days * TESTS_PER_DAY, 1)
        rows.append(
            [
                f.reference,
                f.number,
                round(days, 1),
                f.calls,
                f.alerts,
                tests,
                expected,
                round(100 * min(tests, expected) / expected, 1) if expected else None,
                round(f.calls / days * 30.4375, 2) if days >= 1 else None,
                late_count[f.id],
                data.chases[f.id],
            ]
        )
    return Table(
        "utilisation",
        "Taux d'utilisation des terminaux par utilisateur",
        "Pour chaque bénéficiaire (par référence) : jours suivis dans la période, appels, "
        "alertes, essais effectués contre essais attendus (deux par mois), appels par mois.",
        [
            Column("Référence"),
            Column("Fiche"),
            Column("Jours suivis", "float"),
            Column("Appels", "int"),
            Column("dont alertes", "int"),
            Column("Essais", "int"),
            Column("Essais attendus", "float"),
            Column("Taux d'essais (%)", "percent"),
            Column("Appels par mois", "float"),
            Column("Essais en retard", "int"),
            Column("Relances", "int"),
        ],
        rows,
        number=5,
    )


def table_followed(data: Dataset) -> Table:
    """Table 6: people followed in the period and the length of each follow-up."""
    rows: list[list[Cell]] = []
    for f in sorted(data.files.values(), key=lambda x: x.reference):
        if f.follow_start >= data.end:
            continue
        tz = data.tz(f.juridiction_id)
        stop = f.closed_at if f.closed_at and f.closed_at < data.end else None
        total = ((stop or data.end) - f.follow_start).total_seconds() / 86400
        rows.append(
            [
                f.reference,
                f.number,
                local_day(f.follow_start, tz),
                local_day(stop, tz),
                f.state_at(data.end),
                round(total, 1),
                round(_overlap_days(data, f), 1),
            ]
        )
    return Table(
        "suivis",
        "Personnes suivies et durée de chaque suivi",
        "Bénéficiaires suivis pendant la période (par référence) ; le suivi commence à "
        "l'attribution définitive et finit à la clôture ; un suivi en cours est compté jusqu'à "
        "la fin de la période.",
        [
            Column("Référence"),
            Column("Fiche"),
            Column("Début du suivi"),
            Column("Fin du suivi"),
            Column("État en fin de période"),
            Column("Durée du suivi (jours)", "float"),
            Column("Jours dans la période", "float"),
        ],
        rows,
        number=6,
    )


def table_calls_received(data: Dataset) -> Table:
    """Table 7: calls received from each terminal, with durations and handling."""
    rows: list[list[Cell]] = sorted(
        (
            [
                _ref(data, a),
                _alert_time(data, a),
                _call_type(a),
                NATURE_LABELS[a.nature],
                ORIENTATION_LABELS[a.orientation],
                a.duration_s,
                a.pickup_s,
                "oui" if a.police_called_at else "non",
            ]
            for a in data.alerts
        ),
        key=lambda r: str(r[0]),
    )
    return Table(
        "appels_recus",
        "Appels reçus de chaque terminal",
        "Chaque appel reçu par le centre depuis un terminal (ou un appelant non identifié), "
        "sa durée, le délai de prise en charge et la suite donnée.",
        [
            Column("Référence"),
            Column("Reçu le"),
            Column("Type"),
            Column("Nature"),
            Column("Orientation"),
            Column("Durée (s)", "int"),
            Column("Prise en charge (s)", "int"),
            Column("Forces appelées"),
        ],
        rows,
        number=7,
    )


def _call_type(a: _Alert) -> str:
    if a.restricted_channel is Channel.SMS:
        return "SMS hors liste (refusé)"
    if a.restricted_channel is Channel.VOICE:
        return "appel hors liste (refusé)"
    return "essai" if a.is_test_call else "alerte"


def table_natures(data: Dataset) -> Table:
    """Table 8: nature of calls and orientation given (counts)."""
    counts: Counter[tuple[AlertNature, Orientation | None]] = Counter(
        (a.nature, a.orientation) for a in data.alerts
    )
    orientations: list[Orientation | None] = [*Orientation, None]
    rows: list[list[Cell]] = []
    for nature in AlertNature:
        if nature is AlertNature.CANARI:
            continue
        values = [counts[(nature, o)] for o in orientations]
        rows.append([NATURE_LABELS[nature], *values, sum(values)])
    totals = [sum(int(r[i + 1] or 0) for r in rows) for i in range(len(orientations) + 1)]
    rows.append(["Total", *totals])
    return Table(
        "natures",
        "Nature des appels et orientation donnée",
        "Nombre d'appels de la période par nature et par orientation (soutien apporté, forces "
        "de l'ordre alertées, association contactée…).",
        [
            Column("Nature"),
            *(Column(ORIENTATION_LABELS[o], "int") for o in orientations),
            Column("Total", "int"),
        ],
        rows,
        number=8,
    )


def table_non_compliant(data: Dataset) -> Table:
    """Table 9: calls not compliant with the scheme, their cause and treatment."""
    rows: list[list[Cell]] = [
        [
            _ref(data, a),
            _alert_time(data, a),
            a.non_compliance_cause or "non précisée",
            "SMS non transmis"
            if a.restricted_channel is Channel.SMS
            else ORIENTATION_LABELS[a.orientation],
            a.duration_s,
        ]
        for a in data.alerts
        if a.is_non_compliant
    ]
    return Table(
        "non_conformes",
        "Appels non conformes au dispositif",
        "Appels qualifiés de non conformes, et appels ou SMS vers un numéro hors de la liste "
        "autorisée de la ligne refusés par la passerelle (CCP, annexe 2, I.1), leur cause et "
        "leur traitement.",
        [
            Column("Référence"),
            Column("Reçu le"),
            Column("Cause"),
            Column("Traitement"),
            Column("Durée (s)", "int"),
        ],
        rows,
        number=9,
    )


def table_malfunctions(data: Dataset) -> Table:
    """Table 10: malfunctions and their causes (incidents by kind, platform faults)."""
    by_kind: dict[IncidentKind, list[Any]] = defaultdict(list)
    for i in _reported_in_period(data):
        by_kind[i.kind].append(i)
    swaps = _swaps_by_incident(data)
    rows: list[list[Cell]] = []
    for kind in IncidentKind:
        items = by_kind.get(kind, [])
        done = [i for i in items if i.resolved_at is not None and i.resolved_at < data.end]
        delays = [
            data.hours(i.juridiction_id).opening_time_between(i.reported_at, i.resolved_at)
            for i in done
        ]
        swapped = [swaps[i.id] for i in items if i.id in swaps]
        late = sum(1 for s in swapped if is_swap_late(data, s)) + sum(
            1 for i in items if _is_ticket_overdue(data, i, swaps.get(i.id))
        )
        rows.append(
            [
                INCIDENT_LABELS[kind],
                len(items),
                len(done),
                len(swapped),
                late,
                _hours(round(statistics.fmean(d.total_seconds() for d in delays)))
                if delays
                else None,
            ]
        )
    lost = sum(1 for a in data.alerts if a.bridge_lost)
    overflow = sum(1 for a in data.alerts if a.overflowed)
    rows.append(["pont de conférence interrompu, terminal rappelé (R-24b)", lost, lost, 0, 0, None])
    rows.append(["appel débordé vers le secours (R-23b)", overflow, overflow, 0, 0, None])
    return Table(
        "dysfonctionnements",
        "Dysfonctionnements et causes",
        "Pannes signalées dans la période, par cause : résolues avant la fin de la période, "
        "ayant donné lieu à un échange de terminal, échanges hors délai (plus de 24 heures "
        "ouvrées sous garantie) et délai moyen de résolution en heures ouvrées ; puis les "
        "incidents de la plateforme relevés sur les appels.",
        [
            Column("Cause"),
            Column("Nombre", "int"),
            Column("Résolus", "int"),
            Column("Échanges de terminal", "int"),
            Column("Échanges hors délai", "int"),
            Column("Délai moyen de résolution (h ouvrées)", "float"),
        ],
        rows,
        number=10,
    )


# --- service levels (R-29, R-32) ------------------------------------------------------------


@dataclass
class _Measure:
    key: str
    label: str
    target_s: int | None
    values: list[int] = field(default_factory=list)
    breaches: list[tuple[str, datetime, str, int | None]] = field(default_factory=list)


def service_levels(data: Dataset) -> tuple[Table, Table, dict[str, Any]]:
    """Build the service-level table, the list of breaches and the headline figures."""
    pickup = _Measure("prise_en_charge", "Sonnerie → prise en charge", PICKUP_TARGET_S)
    police = _Measure("forces", "Prise en charge → appel des forces de l'ordre", None)
    navette = _Measure("navette", "Navette reçue → fiche créée", NAVETTE_TARGET_S)
    swap = _Measure("echange", "Panne signalée → terminal échangé (heures ouvrées)", SWAP_TARGET_S)
    for a in data.alerts:
        tz = _alert_tz(data, a)
        if not a.is_test_call:
            value = a.pickup_s
            if value is None and a.claimed_at is None and a.ended_at is not None:
                pickup.breaches.append((_ref(data, a), a.ringing_at, tz, None))  # never picked up
            if value is not None:
                pickup.values.append(value)
                if value > PICKUP_TARGET_S:
                    pickup.breaches.append((_ref(data, a), a.ringing_at, tz, value))
        if a.police_s is not None:
            police.values.append(a.police_s)
    for n in data.navettes:
        tz = data.tz(n.juridiction_id)
        delay = seconds(n.received_at, n.processed_at)
        file = data.files.get(n.file_id) if n.file_id else None
        ref = file.reference if file else "—"
        if delay is not None:
            navette.values.append(delay)
        overdue = (delay is not None and delay > NAVETTE_TARGET_S) or (
            delay is None and (data.end - n.received_at).total_seconds() > NAVETTE_TARGET_S
        )
        if n.is_breach or overdue:
            navette.breaches.append((ref, n.received_at, tz, delay))
    for s in data.swaps:
        tz = data.tz(s.juridiction_id)
        delay = swap_delay_s(data, s)  # opening seconds of the territory (CCP X.4)
        swap.values.append(delay)
        if is_swap_late(data, s):
            ref = (
                data.lines[s.line_id].reference_at(s.swapped_at) if s.line_id in data.lines else ""
            )
            swap.breaches.append((ref, s.reported_at, tz, delay))
    swapped = _swaps_by_incident(data)
    for i in _reported_in_period(data):
        if _is_ticket_overdue(data, i, swapped.get(i.id)):
            ref = (
                data.lines[i.line_id].reference_at(i.reported_at) if i.line_id in data.lines else ""
            )
            swap.breaches.append((ref, i.reported_at, data.tz(i.juridiction_id), None))
    measures = [pickup, police, navette, swap]
    rows: list[list[Cell]] = []
    for m in measures:
        ordered = sorted(m.values)
        rows.append(
            [
                m.label,
                len(ordered),
                _percentile(ordered, 50),
                _percentile(ordered, 90),
                ordered[-1] if ordered else None,
                m.target_s,
                len(m.breaches) if m.target_s is not None else None,
            ]
        )
    levels = Table(
        "niveaux_de_service",
        "Niveaux de service",
        "Délais mesurés appel par appel (R-29) : médiane, 90e centile et maximum en secondes, "
        "objectif et nombre de manquements. Objectifs : prise en charge en 10 s (R-23b), fiche "
        "créée 15 min après la navette (R-10), échange de terminal sous garantie en 24 heures "
        "ouvrées du territoire (R-18, CCP X.4 : lundi–samedi 9 h–18 h, hors jours fériés).",
        [
            Column("Mesure"),
            Column("Nombre", "int"),
            Column("Médiane (s)", "int"),
            Column("90e centile (s)", "int"),
            Column("Maximum (s)", "int"),
            Column("Objectif (s)", "int"),
            Column("Manquements", "int"),
        ],
        rows,
    )
    breach_rows: list[list[Cell]] = []
    for m in measures:
        for ref, at, tz, value in sorted(m.breaches, key=lambda b: b[1]):
            breach_rows.append([m.label, ref, local(at, tz), value, m.target_s])
    for key, count in sorted(data.recorded_breaches.items()):
        kind, _, cause = key.partition("|")
        text = f"relevé par la surveillance : {BREACH_LABELS.get(kind, kind)}"
        if cause:
            text += f" — exonéré (CCP VIII.5 : {_exemption_label(cause)})"
        breach_rows.append([text, "", "", count, None])
    breaches = Table(
        "manquements",
        "Manquements aux niveaux de service",
        "Chaque appel ou opération hors délai (délai en secondes ; vide : jamais traité), puis "
        "le nombre de dépassements relevés en temps réel par la surveillance (R-32).",
        [
            Column("Mesure"),
            Column("Référence"),
            Column("Début"),
            Column("Délai (s)", "int"),
            Column("Objectif (s)", "int"),
        ],
        breach_rows,
    )
    answered = sorted(pickup.values)
    calls = [a for a in data.alerts if not a.is_test_call]
    figures: dict[str, Any] = {
        "people_followed": sum(1 for f in data.files.values() if f.follow_start < data.end),
        "new_files": sum(1 for f in data.files.values() if data.start <= f.created_at < data.end),
        "closed_files": sum(
            1 for f in data.files.values() if f.closed_at and data.start <= f.closed_at < data.end
        ),
        "calls": len(data.alerts),
        "alerts": len(calls),
        "tests": len(data.alerts) - len(calls),
        "police_called": sum(1 for a in data.alerts if a.police_called_at),
        "non_compliant": sum(1 for a in data.alerts if a.is_non_compliant),
        "late_tests": len(late_tests(data)),
        "incidents": len(_reported_in_period(data)),
        "swaps": len(data.swaps),
        "lines": len(data.lines),
        "pickup_within_10s": _share(answered, PICKUP_TARGET_S),
        "pickup_within_30s": _share(answered, 30),
        "pickup_within_60s": _share(answered, 60),
        "breaches": sum(len(m.breaches) for m in measures),
        "natures": Counter(NATURE_LABELS[a.nature] for a in data.alerts),
        "pickup_values": answered,
        "calls_by_month": Counter(
            a.ringing_at.astimezone(ZoneInfo(data.scope.timezone)).strftime("%Y-%m")
            for a in data.alerts
        ),
    }
    return levels, breaches, figures


BREACH_LABELS = {
    "alerte_non_prise": "alerte non prise en charge à temps",
    "navette_15min": "fiche créée plus de 15 minutes après la navette",
    "swap_24h": "échange de terminal au-delà de 24 heures",
}


def _exemption_label(cause: str) -> str:
    try:
        return labels.EXEMPTIONS[labels.ExemptionCause(cause)]
    except ValueError:
        return cause


def _percentile(ordered: list[int], pct: int) -> int | None:
    if not ordered:
        return None
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _share(ordered: list[int], limit: int) -> float | None:
    if not ordered:
        return None
    return round(100 * bisect.bisect_right(ordered, limit) / len(ordered), 1)
