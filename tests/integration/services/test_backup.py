"""``tgd backup`` / ``tgd restore`` (DESIGN §10, R-52): consistent, keyless, shredding holds.

On both backends: what was committed before the backup is back after the restore,
what came after is not; the master key is never in the backup; a restore refuses
while a server uses the database; a file destroyed after the backup stays
unreadable once the backup is restored, while the other files stay readable.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import stamp_revision
from tgd.adapters.crypto import CryptoError, KeyFileCipher, MasterKeyRing
from tgd.backup import BackupError, backup, restore, serving
from tgd.container import Platform
from tgd.db.models import Alert, BeneficiaryFile
from tgd.db.writes import write_transaction
from tgd.domain.alerts import AlertNature, AlertState
from tgd.domain.lifecycle import FileState
from tgd.readiness import head_revision
from tgd.services import destruction, files, keys


@pytest.fixture
def platform(platform: Platform, tmp_path: Path) -> Platform:
    """The test platform with a key file (rotations write it) and a migrated-looking schema."""
    path = tmp_path / "keys" / "master.key"
    path.parent.mkdir()
    MasterKeyRing.generate().save(path)
    platform.cipher = KeyFileCipher(path)
    stamp_revision(platform.engine, head_revision())
    return platform


def _alert(platform: Platform, sid: str) -> None:
    with write_transaction(platform.sessions) as s:
        s.add(
            Alert(
                call_sid=sid,
                conference_name=f"tgd-{sid}",
                state=AlertState.RINGING,
                nature=AlertNature.NON_QUALIFIEE,
                ringing_at=platform.clock.now(),
            )
        )


def _sids(platform: Platform) -> set[str]:
    with platform.sessions() as s:
        return set(s.scalars(select(Alert.call_sid)))


def _ring_ids(platform: Platform) -> tuple[str, ...]:
    assert isinstance(platform.cipher, KeyFileCipher)
    return MasterKeyRing.load(platform.cipher.path).ids


@pytest.mark.usefixtures("demo")
def test_restore_brings_back_what_the_backup_holds_and_nothing_after(
    platform: Platform, tmp_path: Path
) -> None:
    _alert(platform, "CAbefore")
    done = backup(platform.settings.database_url, tmp_path / "backup")
    _alert(platform, "CAafter")
    assert sorted(p.name for p in done.path.iterdir()) == [
        "database.dump" if done.backend == "postgresql" else "database.sqlite3",
        "manifest.json",
    ]
    assert done.revision == head_revision() and done.master_key_ids
    key_text = Path(platform.cipher.path).read_bytes()  # type: ignore[attr-defined]
    for path in done.path.iterdir():  # the master key stays apart
        assert key_text not in path.read_bytes()
    platform.engine.dispose()
    started = time.monotonic()
    result = restore(platform.settings.database_url, done.path, ring_ids=_ring_ids(platform))
    elapsed = time.monotonic() - started
    assert elapsed < 120, f"restore took {elapsed:.1f} s"
    assert result.revision == head_revision() and result.unreadable == 0
    sids = _sids(platform)
    assert "CAbefore" in sids and "CAafter" not in sids
    with platform.sessions() as s:  # the restored data is readable with the key file
        readable = [
            files.read_personal(s, f, cipher=platform.cipher).last_name
            for f in s.scalars(select(BeneficiaryFile))
        ]
    assert len(readable) == 6


@pytest.mark.usefixtures("demo")
def test_a_file_destroyed_after_the_backup_stays_unreadable_when_restored(
    platform: Platform, tmp_path: Path
) -> None:
    with write_transaction(platform.sessions) as s:
        closing = s.scalars(
            select(BeneficiaryFile).where(BeneficiaryFile.state == FileState.RESILIATION_DEMANDEE)
        ).one()
        closing.state, closing.closed_at = FileState.CLOTURE, platform.clock.now()
        destroyed_id = closing.id
    done = backup(platform.settings.database_url, tmp_path / "backup")
    with write_transaction(platform.sessions) as s:
        file = s.get(BeneficiaryFile, destroyed_id)
        assert file is not None
        destruction.destroy_file(
            s, file, cipher=platform.cipher, rule="R-16", actor="system:test", clock=platform.clock
        )
    assert isinstance(platform.cipher, KeyFileCipher)
    keys.rotate_master_key(
        platform.sessions, platform.cipher, drop_old=True, actor="system:test", clock=platform.clock
    )
    assert not set(done.master_key_ids) & set(_ring_ids(platform))  # the old key is gone
    platform.engine.dispose()
    result = restore(platform.settings.database_url, done.path, ring_ids=_ring_ids(platform))
    assert result.unreadable == 1  # the destroyed file's key: wrapped by a retired master key
    assert result.rekeyed >= 5  # the others take their current wrapping from the live database
    with platform.sessions() as s:
        restored = s.get(BeneficiaryFile, destroyed_id)
        assert restored is not None and restored.state is FileState.CLOTURE  # the row is back…
        with pytest.raises(CryptoError):  # …but nothing in it can be read
            files.read_personal(s, restored, cipher=platform.cipher)
        others = s.scalars(select(BeneficiaryFile).where(BeneficiaryFile.id != destroyed_id))
        assert len([files.read_personal(s, f, cipher=platform.cipher) for f in others]) == 5


@pytest.mark.usefixtures("demo")
def test_restore_refuses_while_a_server_uses_the_database(
    platform: Platform, tmp_path: Path
) -> None:
    done = backup(platform.settings.database_url, tmp_path / "backup")
    url = platform.settings.database_url
    if platform.engine.dialect.name == "sqlite":
        with serving(url), pytest.raises(BackupError, match="arrêtez-le"):
            restore(url, done.path, ring_ids=_ring_ids(platform))
    else:
        with platform.engine.connect(), pytest.raises(BackupError, match="connexion"):
            restore(url, done.path, ring_ids=_ring_ids(platform))
    platform.engine.dispose()
    restore(url, done.path, ring_ids=_ring_ids(platform))  # servers gone: it goes ahead


@pytest.mark.usefixtures("demo")
def test_a_backup_never_overwrites_and_a_damaged_one_is_refused(
    platform: Platform, tmp_path: Path
) -> None:
    done = backup(platform.settings.database_url, tmp_path / "backup")
    with pytest.raises(BackupError, match="existe déjà"):
        backup(platform.settings.database_url, done.path)
    manifest = json.loads((done.path / "manifest.json").read_text())
    data = done.path / manifest["file"]
    data.write_bytes(data.read_bytes()[:-10] + b"0123456789")
    platform.engine.dispose()
    with pytest.raises(BackupError, match="altéré"):
        restore(platform.settings.database_url, done.path, ring_ids=_ring_ids(platform))
    with platform.sessions() as s:  # the database was left as it was
        assert s.scalar(select(func.count()).select_from(BeneficiaryFile)) == 6


def test_an_unmigrated_database_is_not_backed_up(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="tgd db upgrade"):
        backup(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path / "backup")
