"""Destruction is real (R-16, R-52): rows and keys go, and copies taken before become unreadable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import builders
from tgd.adapters.crypto import CryptoError, KeyDestroyed, KeyFileCipher, MasterKeyRing
from tgd.container import Platform
from tgd.db.models import Alert, BeneficiaryFile, DataKey, DestructionRecord, FileVersion
from tgd.db.session import make_engine, make_session_factory
from tgd.db.writes import write_transaction
from tgd.domain.alerts import AlertNature, AlertState
from tgd.domain.beneficiary import PersonalData
from tgd.domain.errors import Conflict
from tgd.domain.lifecycle import FileState
from tgd.services import destruction, files, keys


@pytest.fixture
def key_file_cipher(tmp_path: Path) -> KeyFileCipher:
    path = tmp_path / "keys" / "master.key"
    path.parent.mkdir()
    MasterKeyRing.generate().save(path)
    return KeyFileCipher(path)


@pytest.fixture
def platform(platform: Platform, key_file_cipher: KeyFileCipher) -> Platform:
    platform.cipher = key_file_cipher
    return platform


def _closed_file(platform: Platform) -> int:
    """Build Paris' file of M 75 75056 04 1, closed now, and an alert it gave."""
    with write_transaction(platform.sessions) as s:
        file = builders.closed_file(
            s,
            juridiction=builders.juridiction(s, clock=platform.clock),
            closed_at=platform.clock.now(),
            cipher=platform.cipher,
            clock=platform.clock,
        )
        builders.alert(
            s,
            assignment=file.assignment,
            file=file,
            call_sid="CAdestroy",
            state=AlertState.CLOSED,
            nature=AlertNature.DANGER_REEL,
            clock=platform.clock,
        )
        return file.id


def _live_files(platform: Platform, *last_names: str) -> list[int]:
    """Build Paris' assigned lines 01, 02… with a file for each of these people."""
    with write_transaction(platform.sessions) as s:
        paris = builders.juridiction(s, clock=platform.clock)
        files_ = [
            builders.assigned_file(
                s,
                juridiction=paris,
                order_no=n,
                personal=PersonalData(last_name=name, first_name="Claire"),
                cipher=platform.cipher,
                clock=platform.clock,
            )
            for n, name in enumerate(last_names, start=1)
        ]
        return [f.id for f in files_]


def _destroy(platform: Platform, file_id: int) -> None:
    with write_transaction(platform.sessions) as s:
        file = s.get(BeneficiaryFile, file_id)
        assert file is not None
        destruction.destroy_file(
            s, file, cipher=platform.cipher, rule="R-16", actor="system:test", clock=platform.clock
        )
    assert isinstance(platform.cipher, KeyFileCipher)
    keys.rotate_master_key(
        platform.sessions, platform.cipher, drop_old=True, actor="system:test", clock=platform.clock
    )


def _key_ids(platform: Platform, file_id: int) -> set[int]:
    """The data keys of a file and of its alerts."""
    with platform.sessions() as s:
        file = s.get(BeneficiaryFile, file_id)
        assert file is not None and file.data_key_id is not None
        alerts = s.scalars(select(Alert.data_key_id).where(Alert.file_id == file_id)).all()
        return {file.data_key_id, *(k for k in alerts if k is not None)}


def test_destruction_deletes_the_file_keys_rows(platform: Platform, session: Session) -> None:
    # The rotation after a destruction re-wraps every key row left: a key row that
    # survived would open, under the new master key, what a copy taken before still holds.
    file_id = _closed_file(platform)
    key_ids = _key_ids(platform, file_id)
    _destroy(platform, file_id)
    assert session.scalars(select(DataKey.id).where(DataKey.id.in_(key_ids))).all() == []


def test_destroyed_file_keeps_only_anonymous_figures(platform: Platform, session: Session) -> None:
    file_id = _closed_file(platform)
    _destroy(platform, file_id)
    file = session.get(BeneficiaryFile, file_id)
    assert file is not None and file.state is FileState.DETRUIT and file.data_key_id is None
    assert session.scalar(select(func.count()).where(FileVersion.file_id == file_id)) == 0
    alert = session.scalars(select(Alert).where(Alert.call_sid == "CAdestroy")).one()
    assert alert.nature is AlertNature.DANGER_REEL and alert.reference == "M 75 75056 04 1"
    record = session.scalars(select(DestructionRecord)).one()
    assert (record.reference, record.rule) == ("M 75 75056 04 1", "R-16")
    with pytest.raises(KeyDestroyed):
        files.read_personal(session, file, cipher=platform.cipher)


def test_other_files_stay_readable_after_rotation(platform: Platform, session: Session) -> None:
    _live_files(platform, "Martin-Test", "Moreau-Test")
    _destroy(platform, _closed_file(platform))
    readable = [
        files.read_personal(session, f, cipher=platform.cipher).last_name
        for f in session.scalars(
            select(BeneficiaryFile).where(BeneficiaryFile.state != FileState.DETRUIT)
        )
    ]
    assert sorted(readable) == ["Martin-Test", "Moreau-Test"]


def test_copy_taken_before_destruction_is_unreadable_afterwards(
    platform: Platform, tmp_path: Path
) -> None:
    if platform.engine.dialect.name != "sqlite":
        pytest.skip("the copy is a file copy of the SQLite database (pg_dump would do the same)")
    file_id = _closed_file(platform)
    database = Path(str(platform.engine.url.database))
    copy = tmp_path / "copy-before.db"
    source, target = sqlite3.connect(database), sqlite3.connect(copy)
    with target:
        source.backup(target)  # a consistent copy, as a backup would take it
    source.close()
    target.close()
    _destroy(platform, file_id)
    engine = make_engine(f"sqlite:///{copy}")
    try:
        with make_session_factory(engine)() as old:
            file = old.get(BeneficiaryFile, file_id)
            assert (
                file is not None and old.get(DataKey, file.data_key_id) is not None
            )  # key row is there
            with pytest.raises(CryptoError):
                files.read_personal(
                    old, file, cipher=platform.cipher
                )  # …but its master key is gone
    finally:
        engine.dispose()


def test_legal_hold_suspends_destruction(platform: Platform) -> None:
    file_id = _closed_file(platform)
    with write_transaction(platform.sessions) as s:
        file = s.get(BeneficiaryFile, file_id)
        assert file is not None
        file.legal_hold = True
    with platform.sessions() as s, pytest.raises(Conflict, match="conservation judiciaire"):
        file = s.get(BeneficiaryFile, file_id)
        assert file is not None
        destruction.destroy_file(
            s, file, cipher=platform.cipher, rule="R-16", actor="system:test", clock=platform.clock
        )


def test_open_file_cannot_be_destroyed(platform: Platform, session: Session) -> None:
    (file_id,) = _live_files(platform, "Martin-Test")
    file = session.get(BeneficiaryFile, file_id)
    assert file is not None and file.state is FileState.ATTRIBUE
    with pytest.raises(Conflict):
        destruction.destroy_file(
            session,
            file,
            cipher=platform.cipher,
            rule="R-16",
            actor="system:test",
            clock=platform.clock,
        )


def test_rotation_without_drop_keeps_old_copies_readable(
    platform: Platform, session: Session
) -> None:
    assert isinstance(platform.cipher, KeyFileCipher)
    _live_files(platform, "Martin-Test")
    before = platform.cipher.ring.current_id
    done = keys.rotate_master_key(
        platform.sessions,
        platform.cipher,
        drop_old=False,
        actor="system:test",
        clock=platform.clock,
    )
    assert done.rewrapped == session.scalar(select(func.count(DataKey.id)))
    assert before in platform.cipher.ring.ids and done.current != before
    file = session.scalars(select(BeneficiaryFile)).first()
    assert file is not None
    assert files.read_personal(session, file, cipher=platform.cipher).last_name


def test_another_process_follows_the_key_file(platform: Platform, session: Session) -> None:
    assert isinstance(platform.cipher, KeyFileCipher)
    _live_files(platform, "Martin-Test")
    other = KeyFileCipher(platform.cipher.path)  # another process's view of the same file
    keys.rotate_master_key(
        platform.sessions, platform.cipher, drop_old=True, actor="system:test", clock=platform.clock
    )
    file = session.scalars(select(BeneficiaryFile)).first()
    assert file is not None
    assert files.read_personal(session, file, cipher=other).last_name  # reloaded on unknown key id
