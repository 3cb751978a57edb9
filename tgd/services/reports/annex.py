"""The parquet's nominative annex: the detail of the alerts with police action (CCP IV.6, R-27).

This is the only part of a report that decrypts anything: the name of the
beneficiary of each alert, through ``files.read_personal`` with the file's
key (R-52). It is built only for a user holding ``report.nominative`` (the
parquet, on its own juridictions); the caller audits the download (R-53).
A destroyed file's name is gone for good: the annex says so.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.adapters.crypto import CryptoError
from tgd.db.models.alerts import Alert
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.forces import ForceUnit
from tgd.ports import Cipher
from tgd.services import files
from tgd.services.reports.dataset import Dataset, _alert_tz, _ref
from tgd.services.reports.labels import NATURE_LABELS, ORIENTATION_LABELS, local
from tgd.services.reports.model import Cell, Column, Table

DESTROYED = "données détruites (R-16)"


def nominative_annex(session: Session, data: Dataset, *, cipher: Cipher) -> tuple[Table, list[int]]:
    """Return the annex table and the ids of the files whose names were read."""
    alerts = [a for a in data.alerts if a.police_called_at is not None and not a.is_test_call]
    file_ids = sorted({a.file_id for a in alerts if a.file_id is not None})
    names: dict[int, tuple[str, str]] = {}
    read: list[int] = []
    for file in session.scalars(select(BeneficiaryFile).where(BeneficiaryFile.id.in_(file_ids))):
        try:
            personal = files.read_personal(session, file, cipher=cipher)
        except CryptoError:
            names[file.id] = (DESTROYED, "")
            continue
        names[file.id] = (personal.last_name, personal.first_name)
        read.append(file.id)
    unit_of = _unit_by_alert(session, [a.id for a in alerts])
    units = dict(
        session.execute(
            select(ForceUnit.id, ForceUnit.name).where(
                ForceUnit.id.in_({u for u in unit_of.values() if u is not None})
            )
        ).all()
    )
    numbers = {f.id: f.number for f in data.files.values()}
    rows: list[list[Cell]] = []
    for a in alerts:
        tz = _alert_tz(data, a)
        last, first = names.get(a.file_id, ("", "")) if a.file_id else ("", "")
        rows.append(
            [
                _ref(data, a),
                numbers.get(a.file_id, "") if a.file_id else "",
                last,
                first,
                data.lines[a.line_id].msisdn if a.line_id in data.lines else "",
                local(a.ringing_at, tz),
                local(a.police_called_at, tz),
                units.get(unit_of.get(a.id) or 0, ""),
                NATURE_LABELS[a.nature],
                ORIENTATION_LABELS[a.orientation],
            ]
        )
    table = Table(
        "annexe_nominative",
        "Annexe nominative — alertes avec appel des forces de l'ordre",
        "Document nominatif réservé au parquet (CCP IV.6, R-27) : à ne pas communiquer au "
        "comité de suivi.",
        [
            Column("Référence"),
            Column("Fiche"),
            Column("Nom"),
            Column("Prénom"),
            Column("Ligne"),
            Column("Reçue le"),
            Column("Forces appelées le"),
            Column("Unité"),
            Column("Nature"),
            Column("Orientation"),
        ],
        rows,
    )
    return table, read


def _unit_by_alert(session: Session, alert_ids: list[int]) -> dict[int, int | None]:
    found: dict[int, int | None] = {}
    for i in range(0, len(alert_ids), 900):
        chunk = alert_ids[i : i + 900]
        found.update(
            session.execute(select(Alert.id, Alert.unit_id).where(Alert.id.in_(chunk))).all()
        )
    return found
