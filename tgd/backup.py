"""``tgd backup OUT`` and ``tgd restore IN``: a consistent copy of the database, never the key.

A backup is a directory: ``manifest.json`` (format, backend, schema revision, time,
the ids — not the keys — of the master keys that wrap its data keys, a SHA-256 of
the data file) and the data file itself: SQLite's online backup (a consistent
snapshot taken while the server runs) or PostgreSQL's ``pg_dump`` custom format
(one snapshot). The master key file is never in it: keep it apart (R-52,
docs/security.md).

Crypto-shredding holds across a restore. Each destruction run removes the
destroyed files' data keys and retires the master key that wrapped everything
(``keys.rotate_master_key(drop_old=True)``). A backup taken before holds those
data keys wrapped under a master key that no longer exists: restored, they
unwrap with nothing, so the destroyed files stay unreadable. The files still
alive were re-wrapped under the new master key in the live database: when that
database is reachable at restore time, the restore takes each surviving data
key's new wrapping from it (same id, purpose and creation time), so they stay
readable; a data key the live database no longer has was destroyed, and stays
unreadable.

The restore refuses while a server runs on the database: on SQLite while any
``tgd run`` / ``tgd scheduler`` holds the database's serving lock, on PostgreSQL
while another client is connected to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text, update
from sqlalchemy.engine import make_url

from tgd.db.models.keys import DataKey
from tgd.db.session import make_engine, make_session_factory, read_transaction
from tgd.db.writes import Priority, write_transaction

log = logging.getLogger(__name__)
FORMAT = "tgd-backup"
VERSION = 1
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"


class BackupError(RuntimeError):
    """The backup or the restore cannot be done; the message says why (French)."""


@dataclass(frozen=True)
class BackupResult:
    """What a backup wrote."""

    path: Path
    backend: str
    revision: str | None
    size: int
    master_key_ids: tuple[str, ...]


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did."""

    backend: str
    revision: str | None
    rekeyed: int  # data keys given their current wrapping from the live database
    unreadable: int  # data keys wrapped by a retired master key: destroyed since the backup


# --- the serving lock (SQLite) ------------------------------------------------------------


def serving_lock_path(database_url: str) -> Path | None:
    """Return the lock file that running servers hold on a SQLite database (None otherwise)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(f"{url.database}.serving")


@contextlib.contextmanager
def serving(database_url: str) -> Iterator[None]:
    """Hold the database's serving lock (shared) for the life of a server process."""
    path = serving_lock_path(database_url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.set_inheritable(fd, True)  # gunicorn's worker keeps it too
        yield
    finally:
        os.close(fd)


LINGERING_SECONDS = 2.0  # how long a closed connection may stay listed by PostgreSQL


def _refuse_if_served(engine: Engine, database_url: str) -> None:
    path = serving_lock_path(database_url)
    if path is not None:
        if not path.exists():
            return
        fd = os.open(path, os.O_RDWR)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BackupError(
                    "un serveur TGD (tgd run ou tgd scheduler) utilise cette base : "
                    "arrêtez-le avant de restaurer"
                ) from None
        finally:
            os.close(fd)
        return
    # A connection closed a moment ago (the backup's, a pool just disposed) stays listed
    # until its server process has exited, later on a busy machine: a server's or the
    # scheduler's stays. Look again for a short while before refusing.
    deadline = time.monotonic() + LINGERING_SECONDS
    while (others := _other_connections(engine)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if others:
        raise BackupError(
            f"{others} autre(s) connexion(s) à cette base PostgreSQL (serveurs TGD, "
            "planificateur…) : arrêtez-les avant de restaurer"
        )


def _other_connections(engine: Engine) -> int:
    with engine.connect() as conn:
        others = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        ).scalar_one()
        conn.rollback()
    return int(others)


# --- backup -------------------------------------------------------------------------------


def backup(database_url: str, out: Path) -> BackupResult:
    """Write a consistent backup of the database into the new directory ``out``."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} existe déjà : une sauvegarde n'écrase rien")
    engine = make_engine(database_url, watch_writes=False)
    try:
        backend = engine.dialect.name
        revision, master_ids = _describe(engine)
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tgd-backup-", dir=out.parent))
        try:
            os.chmod(staging, 0o700)
            if backend == "sqlite":
                data = staging / SQLITE_FILE
                _sqlite_backup(engine, data)
            elif backend == "postgresql":
                data = staging / PG_FILE
                _pg_dump(engine, data)
            else:
                raise BackupError(f"base {backend} non prise en charge")
            os.chmod(data, 0o600)
            size = data.stat().st_size
            manifest: dict[str, Any] = {
                "format": FORMAT,
                "version": VERSION,
                "backend": backend,
                "revision": revision,
                "created_at": datetime.now(UTC).isoformat(),
                "file": data.name,
                "sha256": _sha256(data),
                "size": size,
                # Which master keys wrap its data keys: ids only, the keys stay apart.
                "master_key_ids": list(master_ids),
            }
            _write_json(staging / "manifest.json", manifest)
            if out.exists():
                out.rmdir()
            staging.rename(out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return BackupResult(out, backend, revision, size, master_ids)
    finally:
        engine.dispose()


def _describe(engine: Engine) -> tuple[str | None, tuple[str, ...]]:
    from tgd.readiness import current_revision

    revision = current_revision(engine)
    if revision is None:
        raise BackupError("la base n'est pas migrée : rien à sauvegarder (« tgd db upgrade »)")
    with read_transaction(make_session_factory(engine)) as session:
        ids = tuple(sorted(session.scalars(select(DataKey.master_key_id).distinct())))
    return revision, ids


def _sqlite_backup(engine: Engine, target: Path) -> None:
    source_path = engine.url.database
    assert source_path
    # SQLite's online backup: a consistent snapshot of a live database, in a read
    # transaction; writers in other processes go on (WAL).
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)
            dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dest.close()
    finally:
        source.close()
    _check_sqlite(target)


def _check_sqlite(path: Path) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()
    finally:
        conn.close()
    if not result or result[0] != "ok":
        raise BackupError(f"le fichier {path.name} n'est pas une base SQLite intègre")


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        raise BackupError(f"{name} est introuvable (paquet Debian postgresql-client)")
    return str(candidates[-1])


def _pg_connection(engine: Engine) -> tuple[str, dict[str, str]]:
    """Return a libpq connection string (no password) and the environment holding it."""
    from psycopg.conninfo import make_conninfo

    _args, kwargs = engine.dialect.create_connect_args(engine.url)
    # libpq's own parameters only (the dialect adds psycopg objects such as ``context``).
    params = {k: str(v) for k, v in kwargs.items() if isinstance(v, str | int)}
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = password
    return make_conninfo(**params), env


def _pg_dump(engine: Engine, target: Path) -> None:
    conninfo, env = _pg_connection(engine)
    done = subprocess.run(  # noqa: S603 - PostgreSQL's own tools, no shell
        [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
         f"--file={target}", f"--dbname={conninfo}"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BackupError(f"pg_dump a échoué : {done.stderr.strip()[-400:]}")


# --- restore ------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict[str, Any]:
    """Read and check a backup's manifest and data file."""
    try:
        manifest: dict[str, Any] = json.loads((source / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} n'est pas une sauvegarde TGD ({exc})") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise BackupError(f"{source} n'est pas une sauvegarde TGD de version {VERSION}")
    data = source / str(manifest.get("file"))
    if not data.is_file() or _sha256(data) != manifest.get("sha256"):
        raise BackupError(f"le fichier de données de {source} est absent ou altéré")
    return manifest


def restore(database_url: str, source: Path, *, ring_ids: tuple[str, ...]) -> RestoreResult:
    """Replace the configured database with the backup in ``source``."""
    manifest = read_manifest(source)
    engine = make_engine(database_url, watch_writes=False)
    try:
        backend = engine.dialect.name
        if manifest["backend"] != backend:
            raise BackupError(
                f"sauvegarde {manifest['backend']}, base configurée {backend} : "
                "restaurez dans une base du même type"
            )
        _refuse_if_served(engine, database_url)
        live_keys = _live_keys(engine)
        engine.dispose()
        data = source / str(manifest["file"])
        if backend == "sqlite":
            _sqlite_restore(data, Path(str(engine.url.database)))
        else:
            _pg_restore(engine, data)
        rekeyed, unreadable = _rekey(database_url, live_keys, ring_ids)
        return RestoreResult(backend, manifest.get("revision"), rekeyed, unreadable)
    finally:
        engine.dispose()


def _live_keys(engine: Engine) -> dict[int, tuple[str, Any, str, bytes]]:
    """Read the data keys of the database about to be replaced, when it has any."""
    try:
        with read_transaction(make_session_factory(engine)) as session:
            rows = session.execute(
                select(
                    DataKey.id,
                    DataKey.purpose,
                    DataKey.created_at,
                    DataKey.master_key_id,
                    DataKey.wrapped,
                )
            ).all()
    except Exception as exc:  # no database yet, or not migrated: nothing to carry over
        log.info("restore: no live data keys to carry over (%s)", type(exc).__name__)
        return {}
    return {r.id: (r.purpose, r.created_at, r.master_key_id, r.wrapped) for r in rows}


def _rekey(
    database_url: str,
    live: dict[int, tuple[str, Any, str, bytes]],
    ring_ids: tuple[str, ...],
) -> tuple[int, int]:
    """Give surviving data keys their current wrapping; count the ones destroyed since."""
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    try:
        with read_transaction(sessions) as session:
            restored = session.execute(
                select(DataKey.id, DataKey.purpose, DataKey.created_at, DataKey.master_key_id)
            ).all()
        updates, unreadable = [], 0
        for row in restored:
            if row.master_key_id in ring_ids:
                continue
            current = live.get(row.id)
            if (
                current is not None
                and current[0] == row.purpose
                and current[1] == row.created_at
                and current[2] in ring_ids
            ):
                updates.append((row.id, current[2], current[3]))
            else:
                unreadable += 1  # its file was destroyed after the backup
        for start in range(0, len(updates), 200):
            with write_transaction(
                sessions, priority=Priority.PEOPLE, label="tgd restore (re-key)"
            ) as session:
                for key_id, master_id, wrapped in updates[start : start + 200]:
                    session.execute(
                        update(DataKey)
                        .where(DataKey.id == key_id)
                        .values(master_key_id=master_id, wrapped=wrapped)
                    )
        return len(updates), unreadable
    finally:
        engine.dispose()


def _sqlite_restore(data: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{data}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(target)
        try:
            dest.execute("PRAGMA secure_delete=ON")  # pages of the replaced data are wiped
            source.backup(dest)
            dest.execute("PRAGMA journal_mode=WAL")
            dest.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            dest.close()
    finally:
        source.close()
    _check_sqlite(target)


def _pg_restore(engine: Engine, data: Path) -> None:
    conninfo, env = _pg_connection(engine)
    script = subprocess.run(  # noqa: S603 - PostgreSQL's own tools, no shell
        [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--file=-", str(data)],
        env=env, capture_output=True, check=False,
    )  # fmt: skip
    if script.returncode != 0:
        raise BackupError(f"pg_restore a échoué : {script.stderr.decode()[-400:]}")
    # The schema is emptied and the dump loaded in ONE transaction: a failure leaves the
    # database as it was, never half restored.
    prefix = b"DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n"
    done = subprocess.run(  # noqa: S603 - PostgreSQL's own tools, no shell
        [_pg_tool("psql"), "--no-psqlrc", "--quiet", "--single-transaction",
         "--set=ON_ERROR_STOP=1", f"--dbname={conninfo}"],
        input=prefix + script.stdout, env=env, capture_output=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BackupError(f"la restauration a échoué : {done.stderr.decode()[-400:]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, value: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(value, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
