"""Import the carrier's call detail records (Twilio call log, CSV or JSON) for §7 tables 3 and 7.

Accepted: the JSON of Twilio's Calls list (``{"calls": [...]}``, or a bare
array of call resources) and CSV exports with the same fields under any
spelling of their headers (``Sid``/``Call Sid``, ``From``, ``To``,
``Direction``, ``Status``, ``Start Time``/``StartTime``, ``Duration``). Dates
are RFC 2822 (the API's) or ISO 8601. A call is kept when one end is one of
our lines; a call already known from our gateway (same call id as an alert
or call leg) is skipped, and so is a record already imported (idempotent).
The other end is classified: the centre, an emergency number, a police or
gendarmerie unit, an organisation — kept in clear — or a private person,
whose number is only stored encrypted with the file's data key (R-52).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert, CallLeg
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.cdr import CarrierCallRecord
from tgd.db.models.forces import ForceUnit
from tgd.db.models.lines import Line, LineAssignment
from tgd.db.models.territories import Juridiction
from tgd.db.models.users import Organisation
from tgd.domain.errors import N_, ValidationError
from tgd.ports import Cipher, Clock
from tgd.services import audit, vault

# Short numbers that are never a private person's (urgences, 3919 violences femmes info).
EMERGENCY_NUMBERS = frozenset({"15", "17", "18", "112", "114", "115", "119", "3919", "116006"})
MAX_RECORDS = 500_000
_ALIASES = {
    "sid": "sid",
    "callsid": "sid",
    "from": "from",
    "caller": "from",
    "to": "to",
    "called": "to",
    "direction": "direction",
    "status": "status",
    "starttime": "start_time",
    "start": "start_time",
    "datecreated": "date_created",
    "date": "date_created",
    "duration": "duration",
    "durationseconds": "duration",
}


@dataclass
class ImportResult:
    """What an import did: counts only (no number, no name)."""

    read: int = 0
    imported: int = 0
    duplicates: int = 0
    known_alerts: int = 0
    ignored: int = 0

    def as_details(self) -> dict[str, int]:
        """Return the counts for the audit log."""
        return {
            "read": self.read,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "known_alerts": self.known_alerts,
            "ignored": self.ignored,
        }


def parse_call_log(content: bytes, *, filename: str = "") -> list[dict[str, str]]:
    """Read a Twilio call log (JSON or CSV) into records with normalised keys."""
    text = content.decode("utf-8-sig", errors="replace").strip()
    if not text:
        return []
    if filename.lower().endswith(".json") or text[0] in "[{":
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                N_("Journal d'appels JSON illisible (ligne %(line)s)."), line=exc.lineno
            ) from exc
        items = data.get("calls", data.get("records")) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValidationError(N_("Journal d'appels JSON sans liste « calls »."))
        rows = [_normalise(item) for item in items if isinstance(item, dict)]
    else:
        reader = csv.DictReader(io.StringIO(text))
        rows = [_normalise(item) for item in reader]
    if len(rows) > MAX_RECORDS:
        raise ValidationError(
            N_("Journal trop long : %(max)s appels au plus par import."), max=MAX_RECORDS
        )
    return rows


def _normalise(item: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in item.items():
        compact = re.sub(r"[^a-z]", "", str(key or "").lower())
        name = _ALIASES.get(compact)
        if name and value not in (None, ""):
            out[name] = str(value).strip()
    return out


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _number(value: str | None) -> str:
    return re.sub(r"[^\d+]", "", value or "")


def import_call_log(
    session: Session,
    content: bytes,
    *,
    filename: str = "",
    centre_numbers: tuple[str, ...] = (),
    actor: str,
    cipher: Cipher,
    clock: Clock,
) -> ImportResult:
    """Import a carrier call log; return the counts.

    The import is audited (``cdr.import``, with the counts) as ``actor``, in the
    caller's transaction.
    """
    records = parse_call_log(content, filename=filename)
    result = ImportResult(read=len(records))
    lines_by_number = {
        _number(msisdn): line_id
        for line_id, msisdn in session.execute(select(Line.id, Line.msisdn)).all()
    }
    kinds = _institution_numbers(session, centre_numbers)
    sids = [r["sid"] for r in records if r.get("sid")]
    known = _existing(session, sids)
    seen: set[str] = set()
    for record in records:
        sid = record.get("sid", "")
        started = _when(record.get("start_time")) or _when(record.get("date_created"))
        source, target = _number(record.get("from")), _number(record.get("to"))
        if not sid or started is None:
            result.ignored += 1
            continue
        if sid in known["alerts"]:
            result.known_alerts += 1  # already counted from our own gateway
            continue
        if sid in known["records"] or sid in seen:
            result.duplicates += 1
            continue
        if source in lines_by_number:
            line_id, direction, other = lines_by_number[source], "sortant", target
        elif target in lines_by_number:
            line_id, direction, other = lines_by_number[target], "entrant", source
        else:
            result.ignored += 1
            continue
        seen.add(sid)
        kind = kinds.get(other) or (
            "urgence" if other.lstrip("+") in EMERGENCY_NUMBERS else "prive"
        )
        file_id, key_id = _file_at(session, line_id, started)
        row = CarrierCallRecord(
            call_sid=sid[:64],
            line_id=line_id,
            file_id=file_id,
            direction=direction,
            counterpart_kind=kind,
            counterpart_number=other[:20] if kind != "prive" else None,
            status=(record.get("status") or "completed")[:24],
            started_at=started,
            duration_s=_duration(record.get("duration")),
            imported_at=clock.now(),
        )
        session.add(row)
        if kind == "prive" and key_id is not None:
            session.flush()  # the ciphertext is bound to the row id (E-07)
            row.data_key_id = key_id
            vault.put_text(session, cipher, row, "counterpart_enc", other, key_id=key_id)
        result.imported += 1
    session.flush()
    audit.record(
        session, actor=actor, action="cdr.import", details=result.as_details(), clock=clock
    )
    return result


def _duration(value: str | None) -> int:
    try:
        return max(0, int(float(value or 0)))
    except ValueError:
        return 0


def _existing(session: Session, sids: list[str]) -> dict[str, set[str]]:
    alerts: set[str] = set()
    records: set[str] = set()
    for i in range(0, len(sids), 900):
        chunk = sids[i : i + 900]
        alerts |= set(session.scalars(select(Alert.call_sid).where(Alert.call_sid.in_(chunk))))
        alerts |= {
            s
            for s in session.scalars(select(CallLeg.call_sid).where(CallLeg.call_sid.in_(chunk)))
            if s
        }
        records |= set(
            session.scalars(
                select(CarrierCallRecord.call_sid).where(CarrierCallRecord.call_sid.in_(chunk))
            )
        )
    return {"alerts": alerts, "records": records}


def _institution_numbers(session: Session, centre: tuple[str, ...]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for number in session.scalars(
        select(Organisation.phone).where(Organisation.phone.is_not(None))
    ):
        kinds[_number(number)] = "association"
    for number in session.scalars(
        select(Juridiction.parquet_phone).where(Juridiction.parquet_phone.is_not(None))
    ):
        kinds[_number(number)] = "association"
    for priority, callback in session.execute(
        select(ForceUnit.priority_number, ForceUnit.callback_number)
    ):
        for number in (priority, callback):
            if number:
                kinds[_number(number)] = "forces"
    for number in centre:
        kinds[_number(number)] = "centre"
    return kinds


def _file_at(session: Session, line_id: int, at: datetime) -> tuple[int | None, int | None]:
    """Return the file (and its data key) that held the line at that time."""
    row = session.execute(
        select(BeneficiaryFile.id, BeneficiaryFile.data_key_id)
        .join(LineAssignment, BeneficiaryFile.assignment_id == LineAssignment.id)
        .where(LineAssignment.line_id == line_id, BeneficiaryFile.created_at <= at)
        .order_by(BeneficiaryFile.created_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None, None
    return row[0], row[1]
