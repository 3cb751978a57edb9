"""Use cases of lines, terminals and SIMs: stock, activation, status changes, listings.

A line's reference is built from its court's INSEE code, its order number
and the assignment index Y, and validated by ``Reference`` (R-01..R-03).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from tgd.db.models.lines import Line, LineAssignment, LineStatusChange, Sim, Terminal
from tgd.db.models.territories import Juridiction
from tgd.domain.beneficiary import normalise_phone
from tgd.domain.errors import N_, Conflict, NotFound
from tgd.domain.geography import find_commune
from tgd.domain.lifecycle import LineStatus, check_line_transition
from tgd.domain.reference import Reference
from tgd.ports import Clock
from tgd.services import inventory


@dataclass(frozen=True)
class LineView:
    """What administrators and scripts see of a line (DESIGN §10 ``tgd lines list``)."""

    reference: str
    msisdn: str
    status: str
    juridiction: str
    imei: str | None
    iccid: str | None
    line_id: int

    def as_json(self) -> dict[str, str | None]:
        """Return the JSON object of the listing."""
        return {
            "reference": self.reference,
            "msisdn": self.msisdn,
            "status": self.status,
            "juridiction": self.juridiction,
            "imei": self.imei,
            "iccid": self.iccid,
        }


def reference_for(juridiction: Juridiction, order_no: int, assignment_index: int) -> Reference:
    """Build the reference of a line of this court (R-01)."""
    commune = find_commune(juridiction.insee)
    if commune is None:
        raise NotFound(
            N_("La commune %(insee)s de la juridiction est inconnue."), insee=juridiction.insee
        )
    return Reference(commune.departement, commune.code, order_no, assignment_index)


def add_line(
    session: Session,
    *,
    juridiction: Juridiction,
    order_no: int,
    msisdn: str,
    iccid: str | None = None,
    imei: str | None = None,
    clock: Clock,
) -> LineAssignment:
    """Put a new line in stock, with its SIM and terminal, as assignment Y=1.

    A SIM or a handset already delivered (``tgd inventory import``) is taken from stock: the
    SIM by its number or ICCID, the handset by its IMEI or, when none is given, the one the
    SIM was delivered in. One that already serves a line is refused.
    """
    reference = reference_for(juridiction, order_no, 1)
    msisdn = normalise_phone(msisdn)
    _refuse_duplicates(session, juridiction, order_no, msisdn)
    now = clock.now()
    sim = inventory.take_sim(session, msisdn=msisdn, iccid=iccid)
    if sim is None and iccid:
        sim = Sim(iccid=iccid, msisdn=msisdn, created_at=now)
    terminal = inventory.take_terminal(session, imei) if imei else None
    if terminal is None and imei:
        terminal = Terminal(imei=imei, created_at=now)
    if terminal is None and not imei and sim is not None:
        terminal = inventory.delivered_handset(session, sim)
    line = Line(
        juridiction=juridiction,
        order_no=order_no,
        msisdn=msisdn,
        sim=sim,
        terminal=terminal,
        created_at=now,
    )
    record = LineAssignment(
        line=line,
        assignment_index=1,
        reference=str(reference),
        status=LineStatus.EN_STOCK,
        status_changed_at=now,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add_all([line, record])
    except IntegrityError:  # a concurrent insert won the race
        raise Conflict(N_("Cette ligne vient d'être enregistrée par ailleurs.")) from None
    _history(session, record, None, LineStatus.EN_STOCK, user_id=None, clock=clock)
    return record


def _refuse_duplicates(
    session: Session, juridiction: Juridiction, order_no: int, msisdn: str
) -> None:
    checks = [
        (
            select(Line.id).where(Line.msisdn == msisdn),
            N_("Le numéro %(v)s est déjà enregistré."),
            msisdn,
        ),
        (
            select(Line.id).where(Line.juridiction_id == juridiction.id, Line.order_no == order_no),
            N_("Le numéro d'ordre %(v)s est déjà pris dans cette juridiction."),
            f"{order_no:02d}",
        ),
    ]
    for query, template, value in checks:
        if session.scalar(query) is not None:
            raise Conflict(template, v=value)


def change_status(
    session: Session,
    record: LineAssignment,
    target: LineStatus,
    *,
    user_id: int | None,
    clock: Clock,
) -> None:
    """Move an assignment record along the lifecycle of DESIGN §4."""
    check_line_transition(record.status, target)
    _history(session, record, record.status, target, user_id=user_id, clock=clock)
    record.status = target
    record.status_changed_at = clock.now()
    session.flush()


def _history(
    session: Session,
    record: LineAssignment,
    old: LineStatus | None,
    new: LineStatus,
    *,
    user_id: int | None,
    clock: Clock,
) -> None:
    session.add(
        LineStatusChange(
            assignment_id=record.id,
            from_status=old,
            to_status=new,
            at=clock.now(),
            user_id=user_id,
        )
    )


def find_current_by_msisdn(session: Session, msisdn: str) -> LineAssignment | None:
    """Return the current assignment record of the line with this number (R-20)."""
    return session.scalar(
        select(LineAssignment)
        .join(LineAssignment.line)
        .where(Line.msisdn == msisdn, LineAssignment.is_current.is_(True))
    )


def list_lines(
    session: Session, *, juridiction_ids: frozenset[int] | None = None
) -> list[LineView]:
    """List every line (of these juridictions, when given) with its current assignment record."""
    query = (
        select(LineAssignment).join(LineAssignment.line).where(LineAssignment.is_current.is_(True))
    )
    if juridiction_ids is not None:
        query = query.where(Line.juridiction_id.in_(juridiction_ids))
    rows = session.scalars(
        query.options(
            joinedload(LineAssignment.line).joinedload(Line.juridiction),
            joinedload(LineAssignment.line).joinedload(Line.terminal),
            joinedload(LineAssignment.line).joinedload(Line.sim),
        ).order_by(LineAssignment.reference)
    )
    return [
        LineView(
            reference=r.reference,
            msisdn=r.line.msisdn,
            status=r.status.value,
            juridiction=r.line.juridiction.insee,
            line_id=r.line.id,
            imei=r.line.terminal.imei if r.line.terminal else None,
            iccid=r.line.sim.iccid if r.line.sim else None,
        )
        for r in rows
    ]
