"""Beneficiary files: personal data encrypted at rest, versioned on change (R-12, R-52)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from tgd.adapters.clock import FrozenClock
from tgd.adapters.crypto import EnvelopeCipher, KeyDestroyed
from tgd.db.models import BeneficiaryFile, FileVersion, Juridiction, Territory
from tgd.domain.beneficiary import Address, PersonalData
from tgd.services import files, lines, vault

PERSON = PersonalData(
    last_name="Canari-Nom",
    first_name="Canari-Prénom",
    residence=Address("1 rue du Canari", "75011", "Paris", 48.85, 2.38),
    other_phones=("+33698760099",),
)


@pytest.fixture
def file(session: Session, clock: FrozenClock, cipher: EnvelopeCipher) -> BeneficiaryFile:
    jur = Juridiction(
        insee="75056",
        name="TJ Paris",
        territory=Territory(code="75", name="Paris", timezone="Europe/Paris"),
    )
    session.add(jur)
    session.flush()
    record = lines.add_line(
        session, juridiction=jur, order_no=1, msisdn="+33612345678", clock=clock
    )
    created = files.open_file(
        session, assignment=record, personal=PERSON, cipher=cipher, clock=clock
    )
    session.commit()
    return created


def _raw_dump(engine: Engine) -> bytes:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT personal_enc FROM file_versions")).scalars().all()
    return b"".join(rows)


def test_personal_data_is_never_stored_in_clear(file: BeneficiaryFile, engine: Engine) -> None:
    dump = _raw_dump(engine)
    for value in ("Canari-Nom", "rue du Canari", "+33698760099", "48.85"):
        assert value.encode() not in dump


def test_file_reads_back_its_personal_data(
    session: Session, file: BeneficiaryFile, cipher: EnvelopeCipher
) -> None:
    assert files.read_personal(session, file, cipher=cipher) == PERSON
    assert file.number.startswith("2026-")


def test_update_records_a_version_with_changed_field_names(
    session: Session, file: BeneficiaryFile, cipher: EnvelopeCipher, clock: FrozenClock
) -> None:
    moved = replace(PERSON, residence=Address("2 rue Neuve", "75012", "Paris"))
    version = files.update_personal(session, file, moved, cipher=cipher, clock=clock)
    assert version is not None and version.version_no == 2
    assert version.changed_fields == ["residence"]
    assert files.update_personal(session, file, moved, cipher=cipher, clock=clock) is None
    assert files.read_personal(session, file, cipher=cipher).residence.line == "2 rue Neuve"


def test_ciphertext_moved_to_another_version_does_not_decrypt(
    session: Session, file: BeneficiaryFile, cipher: EnvelopeCipher, clock: FrozenClock
) -> None:
    second = files.update_personal(
        session, file, replace(PERSON, notes="x"), cipher=cipher, clock=clock
    )
    assert second is not None
    first = session.scalars(select(FileVersion).where(FileVersion.version_no == 1)).one()
    second.personal_enc = first.personal_enc  # E-07: AAD binds the row
    with pytest.raises(Exception, match=r"decrypt|authent|integrity|invalid"):
        files.read_personal(session, file, cipher=cipher)


def test_shredding_the_key_makes_the_file_unreadable(
    session: Session, file: BeneficiaryFile, cipher: EnvelopeCipher
) -> None:
    assert file.data_key_id is not None
    vault.shred_key(session, cipher, file.data_key_id)
    session.commit()
    session.refresh(file)
    with pytest.raises(KeyDestroyed):
        files.read_personal(session, file, cipher=cipher)
