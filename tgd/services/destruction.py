"""Destruction of a closed file's nominative data (R-16, R-31, R-52): real, not a flag.

``destroy_file`` removes every nominative row of the file (versions,
temporary information, positions, the points of its addresses, exports,
messages to the parquet, SMS from its terminal, navette contents, alert
notes, the line's allow-list set for this person, what fault reporters
wrote) and deletes its data keys, so any ciphertext left in a copy is
unreadable. What the reports need stays, anonymous: the file row (number,
reference via its line, dates, state ``detruit``), its alerts (times,
nature, orientation) and a line in the destruction register. The caller
commits, then runs a master-key rotation that drops the old master key
(``keys.rotate_master_key(drop_old=True)``) so copies taken before the
destruction become unreadable too.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tgd.db.models.alerts import Alert
from tgd.db.models.beneficiaries import (
    BeneficiaryFile,
    FileExport,
    FileGeocode,
    FileVersion,
    TemporaryInfo,
)
from tgd.db.models.incidents import Incident
from tgd.db.models.lines import LineAssignment
from tgd.db.models.messages import InboundSms
from tgd.db.models.navettes import IntakeDocument, Navette, ParquetMessage
from tgd.db.models.operations import DestructionRecord
from tgd.db.models.positions import Position
from tgd.db.models.restrictions import LineRestriction
from tgd.domain.errors import N_, Conflict
from tgd.domain.lifecycle import FileState, check_file_transition
from tgd.ports import Cipher, Clock
from tgd.services import audit, vault


def destroy_file(
    session: Session, file: BeneficiaryFile, *, cipher: Cipher, rule: str, actor: str, clock: Clock
) -> DestructionRecord:
    """Destroy a closed file's nominative data and keys, keeping anonymous figures."""
    if file.legal_hold:
        raise Conflict(
            N_("Ce dossier fait l'objet d'une conservation judiciaire : destruction suspendue.")
        )
    check_file_transition(file.state, FileState.DETRUIT)
    key_ids = _key_ids(session, file)
    navette_ids = select(Navette.id).where(Navette.file_id == file.id)
    for model in (
        FileVersion,
        TemporaryInfo,
        FileExport,
        FileGeocode,
        ParquetMessage,
        Position,
        InboundSms,
    ):
        session.execute(delete(model).where(model.file_id == file.id))
    session.execute(
        delete(IntakeDocument).where(
            IntakeDocument.id.in_(
                select(Navette.intake_id).where(
                    Navette.file_id == file.id, Navette.intake_id.is_not(None)
                )
            )
        )
    )
    session.execute(
        update(Navette)
        .where(Navette.id.in_(navette_ids))
        .values(payload_enc=None, data_key_id=None)
    )
    session.execute(
        update(Alert)
        .where(Alert.file_id == file.id)
        .values(note_enc=None, caller_number_enc=None, dialled_number_enc=None, data_key_id=None)
    )
    # Annexe 2 I.1: the allow-list set for this person names third parties; it goes too.
    session.execute(
        delete(LineRestriction).where(LineRestriction.assignment_id == file.assignment_id)
    )
    session.execute(
        update(Incident)
        .where(Incident.file_id == file.id)
        .values(report_enc=None, data_key_id=None)
    )
    file.data_key_id = None
    session.flush()
    for key_id in key_ids:
        vault.shred_key(session, cipher, key_id)
    file.state = FileState.DETRUIT
    file.destroyed_at = clock.now()
    reference = session.scalar(
        select(LineAssignment.reference).where(LineAssignment.id == file.assignment_id)
    )
    record = DestructionRecord(
        category="fiche",
        reference=reference,
        file_number=file.number,
        closed_at=file.closed_at,
        destroyed_at=clock.now(),
        rule=rule,
    )
    session.add(record)
    audit.record(
        session,
        actor=actor,
        action="file.destroy",
        object_type="file",
        object_id=file.id,
        details={"rule": rule, "keys": len(key_ids)},
        clock=clock,
    )
    session.flush()
    return record


def _key_ids(session: Session, file: BeneficiaryFile) -> set[int]:
    ids: set[int] = {file.data_key_id} if file.data_key_id is not None else set()
    for model in (Navette, Alert, Position, Incident):
        ids |= {
            k
            for k in session.scalars(select(model.data_key_id).where(model.file_id == file.id))
            if k
        }
    ids |= {
        k
        for k in session.scalars(
            select(IntakeDocument.data_key_id)
            .join(Navette, Navette.intake_id == IntakeDocument.id)
            .where(Navette.file_id == file.id)
        )
        if k
    }
    return ids
