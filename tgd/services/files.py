"""Use cases of beneficiary files: open, read and version their personal data (R-12, R-20).

Personal data is one encrypted document per version (``FileVersion``), under
the file's own data key (R-52). Reading is audited by the caller's policy
layer; here we only decrypt.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tgd.adapters.crypto import KeyDestroyed
from tgd.db.models.beneficiaries import BeneficiaryFile, FileVersion
from tgd.db.models.lines import LineAssignment
from tgd.domain.beneficiary import PersonalData, validated
from tgd.domain.lifecycle import FileState
from tgd.ports import Cipher, Clock
from tgd.services import geocoding, vault


def next_file_number(session: Session, *, clock: Clock) -> str:
    """Return the next file number of the year, e.g. ``2026-000042`` (no personal data)."""
    year = clock.now().year
    prefix = f"{year}-"
    last = session.scalar(
        select(func.max(BeneficiaryFile.number)).where(BeneficiaryFile.number.like(prefix + "%"))
    )
    seq = int(last.split("-")[1]) + 1 if last else 1
    return f"{prefix}{seq:06d}"


def open_file(
    session: Session,
    *,
    assignment: LineAssignment,
    personal: PersonalData,
    association_id: int | None = None,
    navette_id: int | None = None,
    author_id: int | None = None,
    cipher: Cipher,
    clock: Clock,
) -> BeneficiaryFile:
    """Create a file for an assignment record with its first, encrypted, version."""
    personal = validated(personal)
    key = vault.create_key(session, cipher, purpose="file", clock=clock)
    file = BeneficiaryFile(
        number=next_file_number(session, clock=clock),
        assignment_id=assignment.id,
        juridiction_id=assignment.line.juridiction_id,
        association_id=association_id,
        data_key_id=key.id,
        state=FileState.EN_CREATION,
        created_at=clock.now(),
    )
    session.add(file)
    session.flush()
    version = _add_version(
        session, file, personal, [], navette_id, author_id, cipher=cipher, clock=clock
    )
    # the addresses are geocoded after the commit (network I/O), by the job.
    geocoding.mark_addresses(
        session,
        file,
        personal,
        previous=None,
        version_no=version.version_no,
        cipher=cipher,
        clock=clock,
    )
    return file


def _add_version(
    session: Session,
    file: BeneficiaryFile,
    personal: PersonalData,
    changed: list[str],
    navette_id: int | None,
    author_id: int | None,
    *,
    cipher: Cipher,
    clock: Clock,
) -> FileVersion:
    number = 1 + (
        session.scalar(
            select(func.max(FileVersion.version_no)).where(FileVersion.file_id == file.id)
        )
        or 0
    )
    version = FileVersion(
        file_id=file.id,
        version_no=number,
        personal_enc=b"",  # filled right below, once the row has its id (AAD, E-07)
        changed_fields=changed,
        navette_id=navette_id,
        author_id=author_id,
        created_at=clock.now(),
    )
    session.add(version)
    assert file.data_key_id is not None
    vault.put_json(
        session, cipher, version, "personal_enc", personal.to_dict(), key_id=file.data_key_id
    )
    session.flush()
    return version


def current_version(session: Session, file: BeneficiaryFile) -> FileVersion:
    """Return the latest version of the file."""
    version = session.scalar(
        select(FileVersion)
        .where(FileVersion.file_id == file.id)
        .order_by(FileVersion.version_no.desc())
        .limit(1)
    )
    assert version is not None, "a file always has a first version"
    return version


def read_personal(session: Session, file: BeneficiaryFile, *, cipher: Cipher) -> PersonalData:
    """Decrypt the file's current personal data (``KeyDestroyed`` after destruction)."""
    if file.data_key_id is None:
        raise KeyDestroyed("the personal data of this file has been destroyed")
    version = current_version(session, file)
    data = vault.get_json(session, cipher, version, "personal_enc", key_id=file.data_key_id)
    return PersonalData.from_dict(data)


def update_personal(
    session: Session,
    file: BeneficiaryFile,
    personal: PersonalData,
    *,
    navette_id: int | None = None,
    author_id: int | None = None,
    cipher: Cipher,
    clock: Clock,
) -> FileVersion | None:
    """R-12: record a new version with the names of the changed fields; None if unchanged."""
    personal = validated(personal)
    previous = read_personal(session, file, cipher=cipher)
    changed = personal.changed_fields(previous)
    if not changed:
        return None
    version = _add_version(
        session, file, personal, changed, navette_id, author_id, cipher=cipher, clock=clock
    )
    geocoding.mark_addresses(
        session,
        file,
        personal,
        previous=previous,
        version_no=version.version_no,
        cipher=cipher,
        clock=clock,
    )
    return version
