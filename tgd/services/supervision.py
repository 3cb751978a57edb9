"""The supervisors' board: figures of the day (R-29), open alerts, operators, penalties.

"The day" starts at local midnight in the centre's time zone. Figures are
computed from the alerts' timestamps; canaries and tests are left out.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert
from tgd.db.models.users import User
from tgd.ports import Clock
from tgd.services import console, operators, penalties, tests_chase
from tgd.settings import Settings


@dataclass(frozen=True)
class Delays:
    """Statistics of one delay over the day's calls, in seconds."""

    count: int
    median: float | None
    p90: float | None
    worst: float | None
    over_target: int


@dataclass(frozen=True)
class DayFigures:
    """R-29 figures of the day."""

    since: datetime
    alerts: int
    ring_to_answer: Delays
    answer_to_police: Delays


def _delays(values: list[float], target: float) -> Delays:
    if not values:
        return Delays(0, None, None, None, 0)
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return Delays(
        len(values), statistics.median(ordered), p90, ordered[-1], sum(v > target for v in values)
    )


def day_figures(
    session: Session, *, now: datetime, timezone: str, pickup_target_s: int
) -> DayFigures:
    """Compute today's ring-to-answer and answer-to-police delays (R-29, R-23b target)."""
    local_midnight = now.astimezone(ZoneInfo(timezone)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    since = local_midnight.astimezone(ZoneInfo("UTC"))
    alerts = list(
        session.scalars(
            select(Alert).where(
                Alert.ringing_at >= since, Alert.is_canary.is_(False), Alert.is_test.is_(False)
            )
        )
    )
    answer = [(a.claimed_at - a.ringing_at) / timedelta(seconds=1) for a in alerts if a.claimed_at]
    police = [
        (a.police_called_at - a.claimed_at) / timedelta(seconds=1)
        for a in alerts
        if a.police_called_at and a.claimed_at
    ]
    return DayFigures(
        since=since,
        alerts=len(alerts),
        ring_to_answer=_delays(answer, pickup_target_s),
        answer_to_police=_delays(police, 120),
    )


@dataclass(frozen=True)
class Overview:
    """What the supervisors' board shows (R-29, CCP VIII.5)."""

    now: datetime
    figures: DayFigures
    alerts: list[Alert]
    ages: dict[int, int]  # alert id -> seconds since it rang
    exposure: penalties.Board
    late_chases: list[tests_chase.TaskView]
    operators: list[tuple[User, int]]


def overview(session: Session, *, settings: Settings, clock: Clock) -> Overview:
    """Gather the supervisors' board: the day's figures, open alerts, penalties, operators."""
    now = clock.now()
    figures = day_figures(
        session,
        now=now,
        timezone=settings.default_timezone,
        pickup_target_s=settings.alerts.escalate_after_seconds,
    )
    alerts = console.board(session)
    exposure = penalties.exposure(session, settings=settings, clock=clock)
    return Overview(
        now=now,
        figures=figures,
        alerts=alerts,
        ages={a.id: console.age_seconds(a, now) for a in alerts},
        exposure=exposure,
        late_chases=tests_chase.escalated_tasks(session),
        operators=operators.connected_users(session, now=now),
    )
