"""The anonymous rows of one scope and period (R-16), and the late-test stretches read from them.

``Dataset`` is what ``tgd.services.reports.loading.load`` returns and every
table and service-level figure reads: file numbers and dates, line references,
alert times, incidents, swaps, navettes, carrier records. Nothing in it is
personal data, so a period gives the same figures before and after destruction.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from tgd.domain.alerts import AlertNature, Orientation
from tgd.domain.assistance_hours import AssistanceHours
from tgd.domain.lifecycle import LineStatus
from tgd.domain.restrictions import Channel
from tgd.services.reports.labels import UNIDENTIFIED, local
from tgd.services.reports.model import Scope
from tgd.services.reports.period import Period
from tgd.settings import Settings

TESTS_PER_DAY = 2 / 30.4375  # twice a month
TEST_CHASE_KIND = "test_chase"  # the schedules' task for a late test (R-30)


@dataclass(frozen=True)
class Targets:
    """The deadlines a report measures, read from the settings as the live clocks read them.

    ``tgd.services.service_levels`` records breaches against the same settings, so a
    report and the supervisors' screen never disagree on what was late.
    """

    pickup_s: int  # R-23b: pick-up within alerts.escalate_after_seconds
    navette_s: int  # file created within retention.navette_deadline_minutes
    swap_hours: int  # swap within retention.swap_deadline_hours opening hours (CCP X.4)
    test_interval: timedelta  # a test at least every retention.test_call_overdue_days

    @classmethod
    def of(cls, settings: Settings) -> Targets:
        """Return the targets the settings set."""
        return cls(
            pickup_s=settings.alerts.escalate_after_seconds,
            navette_s=settings.retention.navette_deadline_minutes * 60,
            swap_hours=settings.retention.swap_deadline_hours,
            test_interval=timedelta(days=settings.retention.test_call_overdue_days),
        )


DEFAULT_TARGETS = Targets.of(Settings())  # what a report measures when no settings are given


def seconds(start: datetime | None, end: datetime | None) -> int | None:
    """Return whole seconds from ``start`` to ``end``, or None when one is missing."""
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


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
    targets: Targets = DEFAULT_TARGETS

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
            due = last + data.targets.test_interval
            if due < at and due < stop and (tested is None or tested > data.start):
                found.append(LateTest(file.id, due, tested))
            if tested is not None:
                last = tested
    return found


def _reported_in_period(data: Dataset) -> list[Any]:
    return [i for i in data.incidents if i.reported_at >= data.start]


def _swaps_by_incident(data: Dataset) -> dict[int, Any]:
    return {
        s.incident_id: s
        for swaps in data.swap_history.values()
        for s in swaps
        if s.incident_id is not None and s.swapped_at < data.end
    }


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
