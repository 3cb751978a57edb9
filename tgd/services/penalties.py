"""Live penalty exposure (CCP VIII.3, VIII.4, VIII.5) for the supervisors' board.

Each late call (unclaimed past its deadline, R-23b), late file creation (R-10) and
late terminal swap (R-18) of the current quarter is listed with its delay against
the contract's deadline and the penalty the contract's formula gives with the
order values of the configuration (``[penalties]``):

- VIII.3, the teleassistance services: ``P = V x R / 100``, ``R`` the overrun of
  the deadline in percent; due from the first late call. Late calls, and late file
  creations by default (``file_creation_article``), are priced so.
- VIII.4, the other services (the terminals' maintenance: each late swap):
  ``P = V x R / 500``, ``R`` the number of started hours (or days, for deadlines
  counted in days) of delay.

Breaches come from the service-level register (``service_levels``, R-32), plus
those whose clock is running out right now and that the job has not recorded yet.
A supervisor may mark a recorded breach exempt with a documented VIII.5 cause
(the administration's fault, a third party's system, power, the telecom network);
it then costs nothing and the quarterly report shows the exemption.

VIII.1 caps the penalties of the whole contract at the amount the administration has
effectively ordered (``ordered_amount``): the quarter's total is what is left under
that cap once the earlier quarters' penalties (priced from the register the same way)
are counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.operations import ServiceLevelBreach
from tgd.db.models.users import User
from tgd.domain.errors import N_, Conflict, NotFound, ValidationError
from tgd.domain.labels import EXEMPTIONS, ExemptionCause
from tgd.ports import Clock
from tgd.services import audit, service_levels
from tgd.settings import Settings

VIII_3 = "VIII.3"
VIII_4 = "VIII.4"
KIND_LABELS = {
    service_levels.UNCLAIMED: N_("appel pris en charge en retard"),
    service_levels.NAVETTE: N_("fiche créée en retard"),
    service_levels.SWAP: N_("échange de terminal en retard"),
}
NOTE_MAX = 1000


@dataclass(frozen=True)
class Exposure:
    """One late subject and what it may cost."""

    breach_id: int | None  # None: running out now, not yet recorded by the job
    kind: str
    reference: str | None
    started_at: datetime
    deadline_at: datetime
    ended_at: datetime | None
    delay_s: int  # from the start of the clock to its end (or now)
    overrun_s: int  # beyond the deadline
    article: str  # VIII.3 or VIII.4
    rate: float  # R: percent (VIII.3) or hours/days (VIII.4)
    rate_unit: str  # "%", "h", "j"
    order_value: float  # V, euros HT
    amount: float  # P, euros HT (0 when exempt)
    exemption_cause: str | None
    exemption_note: str | None

    @property
    def is_running(self) -> bool:
        """Tell whether the clock is still running (the subject is still not done)."""
        return self.ended_at is None


@dataclass(frozen=True)
class Board:
    """The quarter's exposure: each late subject and the total due."""

    since: datetime
    until: datetime
    items: list[Exposure]
    configured: bool  # every order value is set
    cap: float = 0.0  # VIII.1: the amount ordered under the contract (0: not configured)
    earlier: float = 0.0  # the penalties of the contract's earlier quarters (euros HT)

    @property
    def uncapped(self) -> float:
        """The quarter's penalties by the formulas, exemptions left out (euros HT)."""
        return round(sum(i.amount for i in self.items), 2)

    @property
    def total(self) -> float:
        """The quarter's penalties due: the formulas' sum, within what VIII.1's cap leaves."""
        if self.cap <= 0:
            return self.uncapped
        return round(min(self.uncapped, max(0.0, self.cap - self.earlier)), 2)

    @property
    def capped(self) -> bool:
        """Tell whether VIII.1's cap lowered the quarter's total."""
        return self.total < self.uncapped

    @property
    def exempted(self) -> int:
        """How many late subjects are exempt (VIII.5)."""
        return sum(1 for i in self.items if i.exemption_cause)


def quarter_bounds(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Return the start and end (UTC) of the calendar quarter of ``now`` in ``timezone``."""
    local = now.astimezone(ZoneInfo(timezone))
    first_month = 3 * ((local.month - 1) // 3) + 1
    start = local.replace(month=first_month, day=1, hour=0, minute=0, second=0, microsecond=0)
    end_year, end_month = (
        (start.year + 1, 1) if first_month == 10 else (start.year, first_month + 3)
    )
    end = start.replace(year=end_year, month=end_month)
    return start.astimezone(UTC), end.astimezone(UTC)


def _article(kind: str, settings: Settings) -> str:
    if kind == service_levels.SWAP:
        return VIII_4
    if kind == service_levels.NAVETTE:
        return settings.penalties.file_creation_article
    return VIII_3


def _order_value(kind: str, settings: Settings) -> float:
    values = settings.penalties
    return {
        service_levels.UNCLAIMED: values.call_order_value,
        service_levels.NAVETTE: values.file_order_value,
        service_levels.SWAP: values.swap_order_value,
    }.get(kind, 0.0)


def price(
    *, article: str, limit_s: int, overrun_s: int, order_value: float
) -> tuple[float, str, float]:
    """Apply the contract's formula; return (R, its unit, P in euros HT)."""
    if overrun_s <= 0:
        return 0.0, "%" if article == VIII_3 else "h", 0.0
    if article == VIII_3:
        rate = round(overrun_s / limit_s * 100, 1) if limit_s else 0.0
        return rate, "%", round(order_value * rate / 100, 2)
    # VIII.4: days or hours of delay "according to the deadline of reference", started ones.
    if limit_s >= 2 * 86400 and limit_s % 86400 == 0:
        rate, unit = float(math.ceil(overrun_s / 86400)), "j"
    else:
        rate, unit = float(math.ceil(overrun_s / 3600)), "h"
    return rate, unit, round(order_value * rate / 500, 2)


def _item(
    *,
    breach_id: int | None,
    kind: str,
    reference: str | None,
    started_at: datetime,
    limit_s: int,
    ended_at: datetime | None,
    now: datetime,
    settings: Settings,
    exemption_cause: str | None = None,
    exemption_note: str | None = None,
) -> Exposure:
    delay = int(((ended_at or now) - started_at).total_seconds())
    overrun = max(0, delay - limit_s)
    article = _article(kind, settings)
    value = _order_value(kind, settings)
    rate, unit, amount = price(
        article=article, limit_s=limit_s, overrun_s=overrun, order_value=value
    )
    return Exposure(
        breach_id=breach_id,
        kind=kind,
        reference=reference,
        started_at=started_at,
        deadline_at=started_at + timedelta(seconds=limit_s),
        ended_at=ended_at,
        delay_s=delay,
        overrun_s=overrun,
        article=article,
        rate=rate,
        rate_unit=unit,
        order_value=value,
        amount=0.0 if exemption_cause else amount,
        exemption_cause=exemption_cause,
        exemption_note=exemption_note,
    )


def exposure(session: Session, *, settings: Settings, clock: Clock) -> Board:
    """List the quarter's late calls, file creations and swaps, recorded or running now."""
    now = clock.now()
    since, until = quarter_bounds(now, settings.default_timezone)
    items: list[Exposure] = []
    recorded = set()
    for breach in session.scalars(
        select(ServiceLevelBreach)
        .where(ServiceLevelBreach.started_at >= since, ServiceLevelBreach.started_at < until)
        .order_by(ServiceLevelBreach.started_at.desc(), ServiceLevelBreach.id.desc())
    ):
        recorded.add((breach.kind, breach.subject_type, breach.subject_id))
        items.append(_recorded_item(breach, now=now, settings=settings))
    running = [
        item
        for item in service_levels.clocks_running_late(
            session, settings=settings, since=since, now=now
        )
        if (item.kind, item.subject_type, item.subject_id) not in recorded
        and item.started_at >= since
    ]
    for item in running:
        items.append(
            _item(
                breach_id=None,
                kind=item.kind,
                reference=item.reference,
                started_at=item.started_at,
                limit_s=int(item.limit.total_seconds()),
                ended_at=item.ended_at,
                now=now,
                settings=settings,
            )
        )
    items.sort(key=lambda i: i.started_at, reverse=True)
    values = settings.penalties
    configured = all(
        v > 0 for v in (values.call_order_value, values.file_order_value, values.swap_order_value)
    )
    earlier = _earlier_penalties(session, before=since, now=now, settings=settings)
    return Board(since, until, items, configured, cap=values.ordered_amount, earlier=earlier)


def _earlier_penalties(
    session: Session, *, before: datetime, now: datetime, settings: Settings
) -> float:
    """Price the register's breaches of the earlier quarters (VIII.1 counts the whole contract)."""
    earlier = session.scalars(
        select(ServiceLevelBreach).where(
            ServiceLevelBreach.started_at < before, ServiceLevelBreach.exemption_cause.is_(None)
        )
    )
    return round(sum(_recorded_item(b, now=now, settings=settings).amount for b in earlier), 2)


def _recorded_item(breach: ServiceLevelBreach, *, now: datetime, settings: Settings) -> Exposure:
    """Price one breach of the service-level register."""
    return _item(
        breach_id=breach.id,
        kind=breach.kind,
        reference=breach.reference,
        started_at=breach.started_at,
        limit_s=breach.limit_seconds,
        ended_at=breach.ended_at,
        now=now,
        settings=settings,
        exemption_cause=breach.exemption_cause,
        exemption_note=breach.exemption_note,
    )


def exempt(
    session: Session,
    breach_id: int,
    *,
    cause: str,
    note: str,
    user: User,
    clock: Clock,
) -> ServiceLevelBreach:
    """CCP VIII.5: mark a recorded breach exempt, with its documented cause."""
    breach = session.get(ServiceLevelBreach, breach_id)
    if breach is None:
        raise NotFound(N_("Manquement introuvable."))
    try:
        reason = ExemptionCause(cause)
    except ValueError:
        raise ValidationError(N_("Choisissez la cause d'exonération (CCP VIII.5).")) from None
    text = note.strip()
    if not text:
        raise ValidationError(N_("Décrivez la preuve de la cause (document, ticket, heure…)."))
    if len(text) > NOTE_MAX:
        raise ValidationError(
            N_("La justification est trop longue (%(n)s caractères au plus)."), n=NOTE_MAX
        )
    if breach.exemption_cause is not None:
        raise Conflict(N_("Ce manquement est déjà exonéré."))
    breach.exemption_cause = reason.value
    breach.exemption_note = text
    breach.exempted_by_id = user.id
    breach.exempted_at = clock.now()
    session.flush()
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="penalty.exempt",
        object_type="breach",
        object_id=breach.id,
        details={"cause": reason.value, "kind": breach.kind},
        clock=clock,
    )
    return breach


def cause_label(cause: str | None) -> str | None:
    """Return the untranslated French label of an exemption cause."""
    if not cause:
        return None
    try:
        return EXEMPTIONS[ExemptionCause(cause)]
    except ValueError:
        return cause
