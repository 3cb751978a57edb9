"""Line and terminal administration (R-01, R-17, R-18): stock, activation, terminal swap.

A line enters stock with its SIM and handset (``lines.add_line``), is
activated ("en attente d'affectation", listed in the centre's file), and may
see its faulty handset swapped: the SIM moves to the new handset, so the line
keeps its number and reference (R-01); each swap records when the fault was
reported and when it was fixed, and whether the 24-hour delay was kept (R-18).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.lines import Line, LineAssignment, Swap, Terminal
from tgd.db.models.territories import Juridiction
from tgd.domain.errors import N_, Conflict, NotFound
from tgd.domain.lifecycle import LineStatus
from tgd.domain.navettes import FieldErrors
from tgd.domain.reference import Reference, ReferenceError
from tgd.ports import Clock
from tgd.services import lines

IMEI_LENGTH = 15


@dataclass(frozen=True)
class SwapResult:
    """A swap with its delay (R-18)."""

    swap: Swap
    delay: timedelta
    is_late: bool


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
    value = value.strip()
    if not (value.isdigit() and len(value) == IMEI_LENGTH):
        raise FieldErrors({"imei": [(N_("Un IMEI compte exactement 15 chiffres."), {})]})
    return value


def add_to_stock(
    session: Session,
    *,
    juridiction_insee: str,
    order_no: int,
    msisdn: str,
    iccid: str | None,
    imei: str | None,
    clock: Clock,
) -> LineAssignment:
    """Put a new line in stock (status "en stock", Y = 1)."""
    juridiction = juridiction_by_insee(session, juridiction_insee)
    if imei:
        imei = _check_imei(imei)
    if not 1 <= order_no <= 99:
        raise FieldErrors({"order_no": [(N_("Le numéro d'ordre va de 01 à 99."), {})]})
    return lines.add_line(
        session,
        juridiction=juridiction,
        order_no=order_no,
        msisdn=msisdn,
        iccid=iccid or None,
        imei=imei or None,
        clock=clock,
    )


def activate(
    session: Session, record: LineAssignment, *, user_id: int | None, clock: Clock
) -> None:
    """Activate a line: "en stock" to "en attente d'affectation" (listed in the centre's file)."""
    if record.status is not LineStatus.EN_STOCK:
        raise Conflict(
            N_("Seule une ligne en stock peut être activée (celle-ci est « %(s)s »)."),
            s=record.status.label,
        )
    lines.change_status(session, record, LineStatus.EN_ATTENTE, user_id=user_id, clock=clock)


def swap_terminal(
    session: Session,
    line: Line,
    *,
    new_imei: str,
    model: str = "",
    reported_at: datetime,
    cause: str,
    deadline_hours: int = 24,
    clock: Clock,
) -> SwapResult:
    """R-18: replace a faulty handset on the same line (same number, same reference)."""
    new_imei = _check_imei(new_imei)
    now = clock.now()
    if reported_at > now:
        raise FieldErrors(
            {"reported_at": [(N_("Le signalement ne peut pas être dans le futur."), {})]}
        )
    if session.scalar(select(Terminal.id).where(Terminal.imei == new_imei)) is not None:
        raise FieldErrors(
            {"imei": [(N_("Le terminal %(v)s est déjà enregistré."), {"v": new_imei})]}
        )
    if line is None:
        raise NotFound(N_("Ligne inconnue."))
    old = line.terminal
    if old is not None:
        old.is_faulty = True
    terminal = Terminal(imei=new_imei, model=model, created_at=now)
    session.add(terminal)
    line.terminal = None
    session.flush()  # the unique terminal_id is free before the new handset takes it
    line.terminal = terminal
    swap = Swap(
        line_id=line.id,
        old_terminal_id=old.id if old else None,
        new_terminal_id=0,
        reported_at=reported_at,
        swapped_at=now,
        cause=cause.strip()[:500],
    )
    session.flush()
    swap.new_terminal_id = terminal.id
    session.add(swap)
    session.flush()
    delay = now - reported_at
    return SwapResult(swap, delay, delay > timedelta(hours=deadline_hours))


def swaps_of(session: Session, line: Line) -> list[Swap]:
    """List a line's swaps, newest first."""
    return list(
        session.scalars(select(Swap).where(Swap.line_id == line.id).order_by(Swap.id.desc()))
    )
