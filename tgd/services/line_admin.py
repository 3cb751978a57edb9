"""Line and terminal administration (R-01, R-17, R-18): stock, activation, terminal swap.

A line enters stock with its SIM and handset (``lines.add_line``), is
activated ("en attente d'affectation", listed in the centre's file), and may
see its faulty handset swapped: the SIM moves to the new handset, so the line
keeps its number and reference (R-01); each swap records when the fault was
reported and when it was fixed, and whether the 24-hour delay was kept (R-18).

The delay of a swap is counted in the assistance centre's opening hours of
the line's territory (CCP X.4, see ``tgd.domain.assistance_hours``): a fault
reported on Saturday at 17:00 in Paris has used one hour of its 24 by Monday
9:00. The deadline binds swaps under warranty (Annexe 2, I.4); a handset whose
warranty had ended on the day of the report is swapped at the price and in the
delay of the financial annex, which the platform does not know, so such a
swap is never "late" here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.lines import Line, LineAssignment, Swap, Terminal
from tgd.db.models.territories import Juridiction, Territory
from tgd.domain.assistance_hours import SWAP_DEADLINE_HOURS, AssistanceHours
from tgd.domain.errors import N_, Conflict, NotFound, ValidationError
from tgd.domain.inventory import check_iccid, check_imei
from tgd.domain.lifecycle import LineStatus
from tgd.domain.navettes import FieldErrors
from tgd.domain.reference import Reference, ReferenceError
from tgd.ports import Clock
from tgd.services import audit, inventory, lines


@dataclass(frozen=True)
class SwapResult:
    """A swap with its delay in opening hours and its deadline (R-18)."""

    swap: Swap
    delay: timedelta
    deadline: datetime
    is_late: bool


def hours_of(territory: Territory) -> AssistanceHours:
    """Return the assistance centre's opening hours on a territory (R-18, CCP X.4)."""
    return AssistanceHours(territory.code, territory.timezone)


def is_under_warranty(
    terminal: Terminal | None, reported_at: datetime, hours: AssistanceHours
) -> bool | None:
    """Tell whether a handset was under warranty on the local day of the report (None: unknown)."""
    if terminal is None or terminal.warranty_end is None:
        return None
    return hours.local_day(reported_at) <= terminal.warranty_end


def juridiction_by_insee(session: Session, insee: str) -> Juridiction:
    """Return a court by its INSEE code, or a field error."""
    found = session.scalar(select(Juridiction).where(Juridiction.insee == insee.strip().upper()))
    if found is None:
        raise FieldErrors({"juridiction": [(N_("Juridiction inconnue : %(v)s."), {"v": insee})]})
    return found


def current_record(session: Session, reference: str) -> LineAssignment:
    """Return the current assignment record of a reference, or a field error.

    A malformed reference gets the parser's own message, which names the wrong part (R-03).
    """
    try:
        parsed = Reference.parse(reference)
    except ReferenceError as exc:
        raise FieldErrors({"reference": [(exc.template, exc.params)]}) from None
    record = session.scalar(
        select(LineAssignment).where(
            LineAssignment.reference == str(parsed), LineAssignment.is_current.is_(True)
        )
    )
    if record is None:
        raise FieldErrors(
            {"reference": [(N_("Aucune ligne ne porte la référence %(v)s."), {"v": reference})]}
        )
    return record


def _check_imei(value: str) -> str:
    try:
        return check_imei(value)
    except ValidationError as exc:
        raise FieldErrors({"imei": [(exc.template, exc.params)]}) from None


def _check_iccid(value: str) -> str:
    try:
        return check_iccid(value)
    except ValidationError as exc:
        raise FieldErrors({"iccid": [(exc.template, exc.params)]}) from None


def add_to_stock(
    session: Session,
    *,
    juridiction_insee: str,
    order_no: int,
    msisdn: str,
    iccid: str | None,
    imei: str | None,
    actor: str,
    clock: Clock,
) -> LineAssignment:
    """Put a new line in stock (status "en stock", Y = 1); audited ``line.add`` by ``actor``."""
    juridiction = juridiction_by_insee(session, juridiction_insee)
    if imei:
        imei = _check_imei(imei)
    if iccid:
        iccid = _check_iccid(iccid)
    if not 1 <= order_no <= 99:
        raise FieldErrors({"order_no": [(N_("Le numéro d'ordre va de 01 à 99."), {})]})
    record = lines.add_line(
        session,
        juridiction=juridiction,
        order_no=order_no,
        msisdn=msisdn,
        iccid=iccid or None,
        imei=imei or None,
        clock=clock,
    )
    _audit_line(session, "line.add", record.line_id, actor=actor, clock=clock)
    return record


def _audit_line(
    session: Session,
    action: str,
    line_id: int,
    *,
    actor: str,
    clock: Clock,
    details: dict[str, object] | None = None,
) -> None:
    """Audit an operation on a line in its transaction (actor: ``user:<id>``, ``system:cli``)."""
    audit.record(
        session,
        actor=actor,
        action=action,
        object_type="line",
        object_id=line_id,
        details=details,
        clock=clock,
    )


def activate(
    session: Session, record: LineAssignment, *, user_id: int | None, actor: str, clock: Clock
) -> None:
    """Activate a line: "en stock" to "en attente d'affectation" (listed in the centre's file).

    Audited ``line.activate`` by ``actor``.
    """
    if record.status is not LineStatus.EN_STOCK:
        raise Conflict(
            N_("Seule une ligne en stock peut être activée (celle-ci est « %(s)s »)."),
            s=record.status.label,
        )
    lines.change_status(session, record, LineStatus.EN_ATTENTE, user_id=user_id, clock=clock)
    _audit_line(session, "line.activate", record.line_id, actor=actor, clock=clock)


def swap_terminal(
    session: Session,
    line: Line,
    *,
    new_imei: str,
    model: str = "",
    reported_at: datetime,
    cause: str,
    deadline_hours: int = SWAP_DEADLINE_HOURS,
    swapped_at: datetime | None = None,
    incident_id: int | None = None,
    user_id: int | None = None,
    actor: str | None,
    clock: Clock,
) -> SwapResult:
    """R-18: replace a faulty handset on the same line (same number, same reference).

    The new handset is taken from stock when it was delivered (``tgd inventory import``),
    else recorded with the model given. The delay runs from the report to the swap in the
    assistance centre's opening hours of the line's territory.

    ``actor`` audits the swap as ``line.swap``; None when the swap is one step of a larger
    action that its caller audits (a fault ticket's swap, audited ``fault.swap``).
    """
    if line is None:
        raise NotFound(N_("Ligne inconnue."))
    new_imei = _check_imei(new_imei)
    now = clock.now()
    done = swapped_at or now
    if reported_at > now:
        raise FieldErrors(
            {"reported_at": [(N_("Le signalement ne peut pas être dans le futur."), {})]}
        )
    if done > now:
        raise FieldErrors({"swapped_at": [(N_("L'échange ne peut pas être dans le futur."), {})]})
    if done < reported_at:
        raise FieldErrors(
            {"swapped_at": [(N_("L'échange ne peut pas précéder le signalement."), {})]}
        )
    try:
        terminal = inventory.take_terminal(session, new_imei)
    except Conflict as exc:
        raise FieldErrors({"imei": [(exc.template, exc.params)]}) from None
    if terminal is None:
        terminal = Terminal(imei=new_imei, model=model.strip()[:80], created_at=now)
        session.add(terminal)
    elif model.strip() and not terminal.model:
        terminal.model = model.strip()[:80]
    hours = hours_of(line.juridiction.territory)
    old = line.terminal
    warranty = is_under_warranty(old, reported_at, hours)
    if old is not None:
        old.is_faulty = True
    line.terminal = None
    session.flush()  # the unique terminal_id is free before the new handset takes it
    line.terminal = terminal
    session.flush()
    swap = Swap(
        line_id=line.id,
        old_terminal_id=old.id if old else None,
        new_terminal_id=terminal.id,
        incident_id=incident_id,
        reported_at=reported_at,
        swapped_at=done,
        cause=cause.strip()[:500],
        under_warranty=warranty,
        user_id=user_id,
    )
    session.add(swap)
    session.flush()
    deadline = hours.add_opening_hours(reported_at, deadline_hours)
    delay = hours.opening_time_between(reported_at, done)
    result = SwapResult(swap, delay, deadline, warranty is not False and done > deadline)
    if actor is not None:
        _audit_line(
            session,
            "line.swap",
            line.id,
            actor=actor,
            clock=clock,
            details={"late": result.is_late},
        )
    return result


def swaps_of(session: Session, line: Line) -> list[Swap]:
    """List a line's swaps, newest first."""
    return list(
        session.scalars(select(Swap).where(Swap.line_id == line.id).order_by(Swap.id.desc()))
    )
