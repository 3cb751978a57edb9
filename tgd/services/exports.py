"""The document export of a closed file (R-15, R-40): the whole file with its history, in French.

At closure the file is written twice, as OpenDocument text and as PDF, by the
platform's writers (``tgd.services.documents.odt`` and ``.pdf``) from one
``ExportDocument``: identity and contacts as last known, every version (when,
who, which fields changed, and the values of that version), temporary
information with its periods, commissioning steps, navettes, alerts, messages
to the parquet and the termination confirmation.
Each document is stored encrypted with the file's data key (``FileExport``,
R-52), so the file's destruction destroys the exports too (R-16). The
parquet downloads them from its portal (audited by the view).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert
from tgd.db.models.beneficiaries import (
    BeneficiaryFile,
    CommissioningRecord,
    FileExport,
    FileVersion,
    TemporaryInfo,
)
from tgd.db.models.lines import LineAssignment
from tgd.db.models.navettes import Navette, ParquetMessage
from tgd.db.models.operations import Task, TaskStep
from tgd.db.models.territories import Juridiction
from tgd.db.models.users import Organisation
from tgd.domain.beneficiary import PersonalData
from tgd.domain.navettes import KIND_LABELS, STATE_LABELS
from tgd.ports import Cipher, Clock
from tgd.services import vault
from tgd.services.documents.model import Block, Document, Heading, Note, Pairs, Paragraph

FORMATS = {"odt": "application/vnd.oasis.opendocument.text", "pdf": "application/pdf"}

STEP_LABELS = {
    "test_terminal": "Essai du terminal",
    "verification_affectation": "Vérification de l'affectation",
    "essai_beneficiaire": "Appel d'essai de la personne",
}
FIELD_LABELS = {
    "last_name": "Nom",
    "first_name": "Prénom",
    "birth_date": "Date de naissance",
    "residence": "Domicile",
    "workplace": "Lieu de travail",
    "workplace_hours": "Horaires de travail",
    "other_phones": "Autres numéros",
    "magistrate": "Magistrat référent",
    "association_contact": "Contact à l'association",
    "remarks": "Remarques pour les téléassisteurs",
    "notes": "Notes du centre",
}


@dataclass
class Section:
    """A titled part of the document: label/value rows and free paragraphs."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)


@dataclass
class ExportDocument:
    """What both formats print, already in French and in the territory's time."""

    title: str
    subtitle: str
    sections: list[Section]


def _fmt(value: datetime | None, timezone: str) -> str:
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(timezone))
    return f"{local:%d/%m/%Y %H:%M} ({local.tzname()})"


def _personal_rows(p: PersonalData) -> list[tuple[str, str]]:
    return [
        ("Nom", p.last_name),
        ("Prénom", p.first_name),
        ("Date de naissance", p.birth_date.strftime("%d/%m/%Y") if p.birth_date else "—"),
        ("Domicile", p.residence.one_line() or "—"),
        ("Lieu de travail", p.workplace.one_line() or "—"),
        ("Horaires de travail", p.workplace_hours or "—"),
        ("Autres numéros", ", ".join(p.other_phones) or "—"),
        ("Magistrat référent", p.magistrate or "—"),
        ("Contact à l'association", p.association_contact or "—"),
        ("Remarques pour les téléassisteurs", p.remarks or "—"),
        ("Notes du centre", p.notes or "—"),
    ]


def build_document(
    session: Session, file: BeneficiaryFile, *, cipher: Cipher, clock: Clock
) -> ExportDocument:
    """Gather and decrypt the whole file into a French document."""
    key = file.data_key_id
    juridiction = session.get(Juridiction, file.juridiction_id)
    assert juridiction is not None
    tz = juridiction.territory.timezone
    assignment = session.get(LineAssignment, file.assignment_id)
    assert assignment is not None
    association = session.get(Organisation, file.association_id) if file.association_id else None
    versions = session.scalars(
        select(FileVersion).where(FileVersion.file_id == file.id).order_by(FileVersion.version_no)
    ).all()
    decrypted = [
        PersonalData.from_dict(vault.get_json(session, cipher, v, "personal_enc", key_id=key))
        for v in versions
    ]
    summary = Section(
        "Dossier",
        [
            ("Numéro de fiche", file.number),
            ("Référence du terminal", assignment.reference),
            ("Ligne", assignment.line.msisdn),
            ("Juridiction", juridiction.name),
            ("Association référente", association.name if association else "—"),
            ("Créée le", _fmt(file.created_at, tz)),
            ("Attribuée définitivement le", _fmt(file.commissioned_at, tz)),
            ("Résiliation demandée le", _fmt(file.termination_requested_at, tz)),
            (
                "Date de résiliation (navette)",
                file.termination_date.strftime("%d/%m/%Y") if file.termination_date else "—",
            ),
            ("Clôturée le", _fmt(file.closed_at, tz)),
            ("Destruction prévue le", _fmt(file.destruction_due_at, tz)),
        ],
    )
    current = Section("Personne protégée (dernière version)", _personal_rows(decrypted[-1]))
    history = Section("Historique des versions")
    for version, personal in zip(versions, decrypted, strict=True):
        changed = ", ".join(FIELD_LABELS.get(f, f) for f in version.changed_fields) or "création"
        author = f"utilisateur n° {version.author_id}" if version.author_id else "système"
        history.paragraphs.append(
            f"Version {version.version_no} du {_fmt(version.created_at, tz)} par {author}"
            f"{f' (navette n° {version.navette_id})' if version.navette_id else ''} : {changed}."
        )
        for label, value in _personal_rows(personal):
            if version.version_no == 1 or any(
                FIELD_LABELS.get(f) == label for f in version.changed_fields
            ):
                history.rows.append((f"v{version.version_no} — {label}", value))
    temporary = Section("Informations temporaires")
    for t in session.scalars(
        select(TemporaryInfo)
        .where(TemporaryInfo.file_id == file.id)
        .order_by(TemporaryInfo.valid_from)
    ):
        text = vault.get_text(session, cipher, t, "content_enc", key_id=key) or ""
        temporary.paragraphs.append(
            f"Du {_fmt(t.valid_from, tz)} au {_fmt(t.valid_until, tz)} : {text}"
        )
    commissioning = Section("Mise en service")
    for r in session.scalars(
        select(CommissioningRecord)
        .where(CommissioningRecord.file_id == file.id)
        .order_by(CommissioningRecord.at)
    ):
        outcome = "réussi" if r.succeeded else "échoué"
        commissioning.rows.append((f"{_fmt(r.at, tz)} — {STEP_LABELS[r.step.value]}", outcome))
    navettes = Section("Navettes")
    for n in session.scalars(
        select(Navette).where(Navette.file_id == file.id).order_by(Navette.id)
    ):
        navettes.rows.append(
            (
                f"Navette n° {n.id} — {KIND_LABELS[n.kind]}",
                f"reçue le {_fmt(n.received_at, tz)}, {STATE_LABELS[n.state]}"
                f"{', traitée le ' + _fmt(n.processed_at, tz) if n.processed_at else ''}",
            )
        )
    alerts = Section("Alertes et essais")
    for a in session.scalars(
        select(Alert).where(Alert.file_id == file.id).order_by(Alert.ringing_at)
    ):
        orientation = a.orientation.value if a.orientation else "—"
        police = (
            f", forces de l'ordre appelées le {_fmt(a.police_called_at, tz)}"
            if a.police_called_at
            else ""
        )
        alerts.rows.append(
            (
                _fmt(a.ringing_at, tz),
                f"{a.nature.value}{' (essai)' if a.is_test else ''}, "
                f"orientation : {orientation}{police}",
            )
        )
    messages = Section("Informations transmises au parquet")
    for m in session.scalars(
        select(ParquetMessage).where(ParquetMessage.file_id == file.id).order_by(ParquetMessage.id)
    ):
        text = vault.get_text(session, cipher, m, "content_enc", key_id=key) or ""
        messages.paragraphs.append(f"{_fmt(m.sent_at, tz)} : {text}")
    closure = Section("Résiliation")
    for task in session.scalars(
        select(Task).where(Task.file_id == file.id, Task.kind == "termination_check")
    ):
        for step in session.scalars(
            select(TaskStep).where(TaskStep.task_id == task.id).order_by(TaskStep.at)
        ):
            closure.rows.append(
                (
                    f"{_fmt(step.at, tz)} — {TERMINATION_STEP_LABELS.get(step.step, step.step)}",
                    f"{TERMINATION_OUTCOME_LABELS.get(step.outcome, step.outcome)} "
                    f"(utilisateur n° {step.user_id})",
                )
            )
    sections = [
        summary,
        current,
        history,
        temporary,
        commissioning,
        navettes,
        alerts,
        messages,
        closure,
    ]
    for s in sections:
        if not s.rows and not s.paragraphs:
            s.paragraphs.append("Néant.")
    return ExportDocument(
        title=f"Fiche bénéficiaire {file.number}",
        subtitle=(
            f"Téléphone Grave Danger — export de clôture du {_fmt(clock.now(), tz)}. "
            "Document nominatif et confidentiel, destiné au seul parquet référent."
        ),
        sections=sections,
    )


TERMINATION_STEP_LABELS = {
    "magistrate_call": "Appel au magistrat : fin de la mesure",
    "terminal_recovered": "Récupération du terminal",
}
TERMINATION_OUTCOME_LABELS = {
    "confirmed": "confirmée",
    "not_confirmed": "non confirmée",
    "yes": "oui",
    "no": "non",
}


def text_document(doc: ExportDocument) -> Document:
    """Lay the export out as blocks, A4 portrait: the ODT and the PDF are written from them."""
    blocks: list[Block] = [Heading(doc.title, level=1), Note(doc.subtitle)]
    for section in doc.sections:
        blocks.append(Heading(section.title))
        if section.rows:
            blocks.append(Pairs(section.rows))
        blocks += [Paragraph(p) for p in section.paragraphs]
    return Document(title=doc.title, blocks=blocks, author="Téléphone Grave Danger")


def render(document: Document, fmt: str) -> bytes:
    """Write the laid-out document in one of ``FORMATS`` (odt, pdf)."""
    # Imported here: odfpy, reportlab and matplotlib's fonts load at the first closure only.
    from tgd.services.documents import odt, pdf

    writers = {"odt": odt.write_document, "pdf": pdf.write_document}
    out = io.BytesIO()
    writers[fmt](out, document)
    return out.getvalue()


def export_file(
    session: Session, file: BeneficiaryFile, *, cipher: Cipher, clock: Clock
) -> list[FileExport]:
    """Write the ODT and PDF exports of the file, encrypted with its data key (R-15, R-52)."""
    assert file.data_key_id is not None
    document = text_document(build_document(session, file, cipher=cipher, clock=clock))
    exports = []
    for fmt in FORMATS:
        content = render(document, fmt)
        export = FileExport(
            file_id=file.id,
            format=fmt,
            content_enc=b"",
            created_at=clock.now(),
            details={"size": len(content)},
        )
        session.add(export)
        encoded = base64.b64encode(content).decode("ascii")
        vault.put_text(session, cipher, export, "content_enc", encoded, key_id=file.data_key_id)
        exports.append(export)
    session.flush()
    return exports


def exports_of_files(session: Session, file_ids: list[int]) -> list[FileExport]:
    """List the exports of these files (no decryption), oldest first."""
    if not file_ids:
        return []
    query = select(FileExport).where(FileExport.file_id.in_(file_ids)).order_by(FileExport.id)
    return list(session.scalars(query))


def read_export(session: Session, export: FileExport, *, cipher: Cipher) -> bytes:
    """Decrypt an export's document (``KeyDestroyed`` once the file was destroyed)."""
    file = session.get(BeneficiaryFile, export.file_id)
    assert file is not None
    text = vault.get_text(session, cipher, export, "content_enc", key_id=file.data_key_id) or ""
    return base64.b64decode(text)
