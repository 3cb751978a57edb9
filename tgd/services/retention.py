"""Retention by category (R-16, R-16b, R-31): what is due for destruction, and destroying it.

Selection is a catch-up query (E-06): every closed file whose destruction is
due *up to now* — four calendar months after ``closed_at`` on its territory's
calendar (``tgd.domain.retention.destruction_due_at``), computed here from
``closed_at`` rather than trusted from the stored ``destruction_due_at`` — and
not under legal hold. ``destroy_due_files`` destroys each in its own
transaction (``tgd.services.destruction.destroy_file``: rows, keys, audit
entry, register line), then runs ONE master-key rotation dropping the old key
(``keys.rotate_master_key(drop_old=True)``) when anything was destroyed, or
when an earlier run destroyed files but stopped before rotating. Running it
twice changes nothing the second time. Positions are kept a configurable time
after capture (3 days, extendable by the parquet up to 8 days per file);
files under legal hold keep theirs. The destruction register
(``DestructionRecord``) is anonymous and exported for auditors (CSV, ODS).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.operations import DestructionRecord, JobRun
from tgd.db.models.positions import Position
from tgd.db.models.territories import Juridiction, Territory
from tgd.db.writes import write_transaction
from tgd.domain.errors import N_, Conflict
from tgd.domain.lifecycle import FileState
from tgd.domain.retention import destruction_due_at
from tgd.domain.schedules import check_positions_extension, positions_retention_days
from tgd.ports import Cipher, Clock, KeyRotatingCipher
from tgd.services import audit, destruction, keys
from tgd.settings import RetentionSettings

log = logging.getLogger(__name__)

DESTRUCTION_JOB = "destruction"
RULE_FILE = "R-16"
RULE_POSITIONS = "R-16b"


@dataclass(frozen=True)
class DueFile:
    """A closed file and when it falls due for destruction (no personal data)."""

    file_id: int
    number: str
    closed_at: datetime
    due_at: datetime
    timezone: str
    legal_hold: bool


@dataclass
class DestructionRun:
    """What one destruction run did."""

    destroyed: list[str] = field(default_factory=list)  # file numbers
    held: int = 0
    failed: int = 0
    rotated_at: datetime | None = None
    master_key: str | None = None


def closed_files(session: Session, *, months: int) -> list[DueFile]:
    """Return every closed, not yet destroyed file with its due date on its own calendar."""
    rows = session.execute(
        select(BeneficiaryFile, Territory.timezone)
        .join(Juridiction, Juridiction.id == BeneficiaryFile.juridiction_id)
        .join(Territory, Territory.id == Juridiction.territory_id)
        .where(BeneficiaryFile.state == FileState.CLOTURE, BeneficiaryFile.closed_at.is_not(None))
        .order_by(BeneficiaryFile.closed_at, BeneficiaryFile.id)
    ).all()
    result = []
    for file, timezone in rows:
        assert file.closed_at is not None
        result.append(
            DueFile(
                file_id=file.id,
                number=file.number,
                closed_at=file.closed_at,
                due_at=destruction_due_at(file.closed_at, timezone, months),
                timezone=timezone,
                legal_hold=file.legal_hold,
            )
        )
    return result


def files_due(session: Session, *, months: int, now: datetime) -> list[DueFile]:
    """R-16: every closed file due for destruction up to ``now``, legal holds included."""
    return [f for f in closed_files(session, months=months) if f.due_at <= now]


def destroy_due_files(
    sessions: sessionmaker[Session],
    *,
    cipher: Cipher,
    months: int,
    clock: Clock,
    actor: str = "system:scheduler",
) -> DestructionRun:
    """Destroy every file due now, one transaction each, then rotate the master key once."""
    run = DestructionRun()
    now = clock.now()
    with sessions() as session:
        due = files_due(session, months=months, now=now)
    for item in due:
        if item.legal_hold:
            run.held += 1  # R-16b: suspended until the parquet lifts the hold
            continue
        try:
            with write_transaction(sessions, label="destruction of a file") as session:
                file = session.scalar(
                    select(BeneficiaryFile)
                    .where(BeneficiaryFile.id == item.file_id)
                    .with_for_update()
                )
                # Re-checked under the lock: another run may have destroyed it meanwhile.
                if file is None or file.state != FileState.CLOTURE or file.legal_hold:
                    continue
                destruction.destroy_file(
                    session, file, cipher=cipher, rule=RULE_FILE, actor=actor, clock=clock
                )
            run.destroyed.append(item.number)
            log.info("destruction: file=%s destroyed (rule %s)", item.file_id, RULE_FILE)
        except Conflict:
            run.failed += 1
            log.exception("destruction: file=%s refused", item.file_id)
    if run.destroyed or rotation_pending(sessions):
        _rotate(sessions, cipher, run, actor=actor, clock=clock)
    return run


def _rotate(
    sessions: sessionmaker[Session],
    cipher: Cipher,
    run: DestructionRun,
    *,
    actor: str,
    clock: Clock,
) -> None:
    # one rotation per run, dropping the old master key, reaches every copy taken before.
    if not isinstance(cipher, KeyRotatingCipher):
        raise TypeError("destruction needs the key-file cipher to retire the old master key")
    rotation = keys.rotate_master_key(sessions, cipher, drop_old=True, actor=actor, clock=clock)
    run.rotated_at = clock.now()
    run.master_key = rotation.current


def rotation_pending(sessions: sessionmaker[Session]) -> bool:
    """Tell whether files were destroyed after the last rotation (a run stopped half-way)."""
    with sessions() as session:
        return rotation_pending_in(session)


def rotation_pending_in(session: Session) -> bool:
    """``rotation_pending`` in the caller's session."""
    last_destroyed = session.scalar(
        select(func.max(DestructionRecord.destroyed_at)).where(
            DestructionRecord.category == "fiche"
        )
    )
    if last_destroyed is None:
        return False
    rotated = [
        datetime.fromisoformat(r.details["rotated_at"])
        for r in session.scalars(
            select(JobRun)
            .where(JobRun.job == DESTRUCTION_JOB, JobRun.outcome == "ok")
            .order_by(JobRun.id.desc())
            .limit(50)
        )
        if r.details.get("rotated_at")
    ]
    return not rotated or max(rotated) < last_destroyed


def purge_positions(session: Session, *, settings: RetentionSettings, clock: Clock) -> int:
    """R-16b: delete positions older than their file's retention; return how many went."""
    now = clock.now()
    default, maximum = settings.positions_days, settings.positions_max_days
    held = select(BeneficiaryFile.id).where(BeneficiaryFile.legal_hold.is_(True))
    extended = dict(
        session.execute(
            select(BeneficiaryFile.id, BeneficiaryFile.positions_retention_days).where(
                BeneficiaryFile.positions_retention_days.is_not(None),
                BeneficiaryFile.legal_hold.is_(False),
            )
        ).all()
    )
    total = _delete_positions(
        session,
        (Position.captured_at < now - timedelta(days=default)),
        or_(
            Position.file_id.is_(None),
            Position.file_id.not_in(
                held.union(
                    select(BeneficiaryFile.id).where(
                        BeneficiaryFile.positions_retention_days.is_not(None)
                    )
                )
            ),
        ),
    )
    for file_id, days in extended.items():
        keep = positions_retention_days(days, default, maximum)
        total += _delete_positions(
            session, Position.file_id == file_id, Position.captured_at < now - timedelta(days=keep)
        )
    if total:
        session.add(
            DestructionRecord(
                category="positions", destroyed_at=now, rule=RULE_POSITIONS, count=total
            )
        )
        audit.record(
            session,
            actor="system:scheduler",
            action="positions.purge",
            details={"count": total, "rule": RULE_POSITIONS},
            clock=clock,
        )
        log.info("positions retention: %s position(s) deleted", total)
    session.flush()
    return total


def _delete_positions(session: Session, *conditions: object) -> int:
    result = session.execute(delete(Position).where(*conditions))  # type: ignore[arg-type]
    return int(getattr(result, "rowcount", 0) or 0)


def _audit_file(
    session: Session,
    file: BeneficiaryFile,
    action: str,
    details: dict[str, object],
    *,
    actor: str,
    clock: Clock,
) -> None:
    """Audit a change of the file's retention, flushed with it (R-16b)."""
    audit.record(
        session,
        actor=actor,
        action=action,
        object_type="file",
        object_id=file.id,
        details=details,
        clock=clock,
    )
    session.flush()


def set_legal_hold(
    session: Session, file: BeneficiaryFile, *, on: bool, actor: str, clock: Clock
) -> None:
    """R-16b: put a file under legal hold (criminal proceedings), or lift it."""
    if file.state == FileState.DETRUIT:
        raise Conflict(N_("Ce dossier est déjà détruit."))
    file.legal_hold = on
    _audit_file(session, file, "file.legal_hold", {"on": on}, actor=actor, clock=clock)


def set_positions_retention(
    session: Session,
    file: BeneficiaryFile,
    days: int | None,
    *,
    settings: RetentionSettings,
    actor: str,
    clock: Clock,
) -> None:
    """R-16b: the parquet extends (up to the maximum) or resets a file's positions retention."""
    if days is not None:
        check_positions_extension(days, settings.positions_days, settings.positions_max_days)
    file.positions_retention_days = days
    _audit_file(session, file, "file.positions_retention", {"days": days}, actor=actor, clock=clock)


def destruction_register(
    session: Session, *, start: datetime | None = None, end: datetime | None = None
) -> list[DestructionRecord]:
    """Return the destruction register (anonymous), newest first."""
    query = select(DestructionRecord)
    if start is not None:
        query = query.where(DestructionRecord.destroyed_at >= start)
    if end is not None:
        query = query.where(DestructionRecord.destroyed_at < end)
    return list(
        session.scalars(query.order_by(DestructionRecord.destroyed_at.desc(), DestructionRecord.id))
    )


REGISTER_COLUMNS = (
    N_("Catégorie"),
    N_("Référence"),
    N_("N° de fiche"),
    N_("Clôturé le (UTC)"),
    N_("Détruit le (UTC)"),
    N_("Règle"),
    N_("Nombre"),
)


def register_rows(records: Iterable[DestructionRecord]) -> list[list[str]]:
    """Turn register lines into text rows (ISO 8601 UTC times) for the exports."""
    return [
        [
            r.category,
            r.reference or "",
            r.file_number or "",
            r.closed_at.isoformat() if r.closed_at else "",
            r.destroyed_at.isoformat(),
            r.rule,
            str(r.count),
        ]
        for r in records
    ]


def register_csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """Write the register as CSV (UTF-8 with BOM, semicolons: what French spreadsheets open)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def register_ods(header: Sequence[str], rows: Sequence[Sequence[str]], *, title: str) -> bytes:
    """Write the register as an OpenDocument spreadsheet (R-40)."""
    from tgd.services.documents import ods

    sheets = [
        ods.sheet(ods.sheet_name(title, set()), len(header)),
        ods.row(list(header), ods.BOLD),
        *(ods.row(list(values)) for values in rows),
        ods.SHEET_END,
    ]
    buffer = io.BytesIO()
    ods.write_spreadsheet(buffer, sheets, title=title)
    return buffer.getvalue()


def export_register(
    session: Session,
    fmt: str,
    *,
    header: Sequence[str],
    title: str,
    user_id: int,
    clock: Clock,
) -> bytes:
    """Export the destruction register as CSV or ODS for an auditor, and audit the export.

    ``session`` must be a writer: the audit entry goes with it.
    """
    rows = register_rows(destruction_register(session))
    if fmt == "csv":
        body = register_csv(header, rows)
    elif fmt == "ods":
        body = register_ods(header, rows, title=title)
    else:
        raise ValueError(f"unknown register format {fmt!r}")
    audit.record(
        session,
        actor=f"user:{user_id}",
        action="destruction_register.export",
        details={"format": fmt, "rows": len(rows)},
        clock=clock,
    )
    return body
