"""Terminals and SIMs in stock: supplier delivery notes, the listing, taking from stock (R-18).

``import_delivery`` imports a delivery note all or nothing: the file is
checked whole (``tgd.domain.inventory``), then every IMEI, ICCID and number is
checked against the database, and only a file without a single error is
written, in the caller's transaction. ``list_terminals`` is what
``tgd terminals list --json`` and the administration page show: each handset
with the SIM and number it carries (on its line, or as delivered) and the
reference of its line. ``take_terminal`` and ``take_sim`` hand a line a
handset or a SIM from stock, refusing one that already serves a line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from tgd.db.models.inventory import Delivery
from tgd.db.models.lines import Line, LineAssignment, Sim, Terminal
from tgd.db.models.territories import Juridiction
from tgd.domain.errors import N_, Conflict
from tgd.domain.inventory import DeliveryRejected, RowError, decode, parse_delivery_note
from tgd.ports import Clock
from tgd.services import audit

# Chunk size of the duplicate checks (SQLite accepts at most 32,766 bound parameters).
_CHUNK = 500


@dataclass(frozen=True)
class TerminalView:
    """One handset as administrators and scripts see it (DESIGN §10 ``tgd terminals list``)."""

    id: int
    imei: str
    model: str
    warranty_end: date | None
    iccid: str | None
    msisdn: str | None
    reference: str | None
    juridiction: str | None
    status: str  # en_service, en_stock, defectueux
    delivery_id: int | None
    line_id: int | None

    def as_json(self) -> dict[str, str | int | None]:
        """Return the JSON object of the listing."""
        return {
            "imei": self.imei,
            "iccid": self.iccid,
            "msisdn": self.msisdn,
            "model": self.model,
            "warranty_end": self.warranty_end.isoformat() if self.warranty_end else None,
            "reference": self.reference,
            "juridiction": self.juridiction,
            "status": self.status,
            "delivery": self.delivery_id,
        }


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _known(
    session: Session,
    column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None],
    values: list[str],
) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(values):
        found |= {v for v in session.scalars(select(column).where(column.in_(chunk))) if v}
    return found


def import_delivery(
    session: Session, raw: bytes, *, filename: str, actor: str, clock: Clock
) -> Delivery:
    """Import a supplier's delivery note whole, or raise ``DeliveryRejected`` with every error.

    The import is audited (``inventory.import``) as ``actor``, in the caller's transaction.
    """
    rows = parse_delivery_note(decode(raw))
    imeis = _known(session, Terminal.imei, [r.imei for r in rows])
    iccids = _known(session, Sim.iccid, [r.iccid for r in rows if r.iccid])
    numbers = [r.msisdn for r in rows if r.msisdn]
    msisdns = _known(session, Sim.msisdn, numbers) | _known(session, Line.msisdn, numbers)
    errors: list[RowError] = []
    for row in rows:
        if row.imei in imeis:
            errors.append(
                RowError(row.line, N_("Le terminal %(v)s est déjà enregistré."), {"v": row.imei})
            )
        if row.iccid in iccids:
            errors.append(
                RowError(row.line, N_("La carte SIM %(v)s est déjà enregistrée."), {"v": row.iccid})
            )
        if row.msisdn in msisdns:
            errors.append(
                RowError(row.line, N_("Le numéro %(v)s est déjà enregistré."), {"v": row.msisdn})
            )
    if errors:
        raise DeliveryRejected(errors)
    now = clock.now()
    delivery = Delivery(
        filename=filename.replace("\\", "/").rsplit("/", 1)[-1][:200],
        sha256=hashlib.sha256(raw).hexdigest(),
        terminals=len(rows),
        sims=sum(1 for r in rows if r.iccid),
        actor=actor[:64],
        imported_at=now,
    )
    session.add(delivery)
    session.flush()
    for row in rows:
        terminal = Terminal(
            imei=row.imei,
            model=row.model,
            warranty_end=row.warranty_end,
            delivery_id=delivery.id,
            created_at=now,
        )
        session.add(terminal)
        if row.iccid:
            session.flush()  # the SIM names the handset it came in
            session.add(
                Sim(
                    iccid=row.iccid,
                    msisdn=row.msisdn,
                    delivery_id=delivery.id,
                    delivered_with_id=terminal.id,
                    created_at=now,
                )
            )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="inventory.import",
        object_type="delivery",
        object_id=delivery.id,
        details={"terminals": delivery.terminals, "sims": delivery.sims},
        clock=clock,
    )
    return delivery


def _line_of_terminal(session: Session, terminal_id: int) -> Line | None:
    return session.scalar(select(Line).where(Line.terminal_id == terminal_id))


def take_terminal(session: Session, imei: str) -> Terminal | None:
    """Return the stock handset with this IMEI for a line, None if unknown; refuse a busy one."""
    terminal = session.scalar(select(Terminal).where(Terminal.imei == imei))
    if terminal is None:
        return None
    if terminal.is_faulty:
        raise Conflict(N_("Le terminal %(v)s a été déclaré défectueux."), v=imei)
    if _line_of_terminal(session, terminal.id) is not None:
        raise Conflict(N_("Le terminal %(v)s équipe déjà une ligne."), v=imei)
    return terminal


def take_sim(session: Session, *, msisdn: str, iccid: str | None) -> Sim | None:
    """Return the stock SIM for a new line with this number (and ICCID, when given), or None."""
    by_number = session.scalar(select(Sim).where(Sim.msisdn == msisdn))
    by_iccid = session.scalar(select(Sim).where(Sim.iccid == iccid)) if iccid else None
    if by_number is not None and iccid and (by_iccid is None or by_iccid.id != by_number.id):
        raise Conflict(
            N_("Le numéro %(v)s appartient à la carte SIM %(iccid)s, pas à %(other)s."),
            v=msisdn,
            iccid=by_number.iccid,
            other=iccid,
        )
    sim = by_number or by_iccid
    if sim is None:
        return None
    if session.scalar(select(Line.id).where(Line.sim_id == sim.id)) is not None:
        raise Conflict(N_("La carte SIM %(v)s est déjà enregistrée."), v=sim.iccid)
    if sim.msisdn not in (None, msisdn):
        raise Conflict(
            N_("La carte SIM %(v)s porte le numéro %(n)s."), v=sim.iccid, n=sim.msisdn or ""
        )
    sim.msisdn = msisdn
    return sim


def delivered_handset(session: Session, sim: Sim) -> Terminal | None:
    """Return the handset a SIM was delivered in, if it is still in stock and sound."""
    if sim.delivered_with_id is None:
        return None
    terminal = session.get(Terminal, sim.delivered_with_id)
    if terminal is None or terminal.is_faulty:
        return None
    return None if _line_of_terminal(session, terminal.id) is not None else terminal


def list_terminals(
    session: Session, *, juridiction_ids: frozenset[int] | None = None
) -> list[TerminalView]:
    """List every handset (of these juridictions' lines, when given), by IMEI."""
    installed = {
        line.terminal_id: line
        for line in session.scalars(select(Line).where(Line.terminal_id.is_not(None)))
    }
    references = dict(
        session.execute(
            select(LineAssignment.line_id, LineAssignment.reference).where(
                LineAssignment.is_current.is_(True)
            )
        ).all()
    )
    sims = {s.id: s for s in session.scalars(select(Sim))}
    delivered_sim = {s.delivered_with_id: s for s in sims.values() if s.delivered_with_id}
    sims_on_lines = set(session.scalars(select(Line.sim_id).where(Line.sim_id.is_not(None))))
    insee = dict(session.execute(select(Juridiction.id, Juridiction.insee)).all())
    views: list[TerminalView] = []
    for terminal in session.scalars(select(Terminal).order_by(Terminal.imei)):
        line = installed.get(terminal.id)
        if juridiction_ids is not None and (
            line is None or line.juridiction_id not in juridiction_ids
        ):
            continue
        sim = sims.get(line.sim_id) if line is not None and line.sim_id else None
        if line is None:
            kit = delivered_sim.get(terminal.id)
            sim = kit if kit is not None and kit.id not in sims_on_lines else None
        if line is not None:
            status = "en_service"
        elif terminal.is_faulty:
            status = "defectueux"
        else:
            status = "en_stock"
        views.append(
            TerminalView(
                id=terminal.id,
                imei=terminal.imei,
                model=terminal.model,
                warranty_end=terminal.warranty_end,
                iccid=sim.iccid if sim else None,
                msisdn=(line.msisdn if line is not None else sim.msisdn if sim else None),
                reference=references.get(line.id) if line is not None else None,
                juridiction=insee.get(line.juridiction_id) if line is not None else None,
                status=status,
                delivery_id=terminal.delivery_id,
                line_id=line.id if line is not None else None,
            )
        )
    return views


def stock_terminals(session: Session) -> list[Terminal]:
    """Return the sound handsets not on any line, by IMEI (spares for a swap, R-18)."""
    busy = select(Line.terminal_id).where(Line.terminal_id.is_not(None))
    return list(
        session.scalars(
            select(Terminal)
            .where(Terminal.is_faulty.is_(False), Terminal.id.not_in(busy))
            .order_by(Terminal.imei)
        )
    )


def list_deliveries(session: Session, *, limit: int = 20) -> list[Delivery]:
    """Return the last imported delivery notes, newest first."""
    return list(session.scalars(select(Delivery).order_by(Delivery.id.desc()).limit(limit)))
