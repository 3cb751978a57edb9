"""The platform's wiring, built once per process from settings (no hidden singletons).

``build_platform(settings)`` opens the database, loads (or, outside
production, creates) the master key ring, builds every adapter the
configuration chooses (password hasher, telephony, geocoder, anchor copy) and returns a
``Platform`` that the Flask app, the CLI, the gateway and the scheduler all use.
The doors read the adapters from the platform; they never build one.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from tgd.adapters.anchor_syslog import build_anchor_copy
from tgd.adapters.clock import SystemClock
from tgd.adapters.crypto import KeyFileCipher, MasterKeyRing
from tgd.adapters.geocoder import BanGeocoder, FakeGeocoder
from tgd.adapters.passwords import build_password_hasher
from tgd.adapters.twilio_telephony import build_telephony
from tgd.db.session import make_engine, make_session_factory
from tgd.domain.gazetteer import demo_gazetteer
from tgd.ports import AnchorCopy, Cipher, Clock, Geocoder, PasswordHasher, Telephony
from tgd.settings import Settings

log = logging.getLogger(__name__)
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


@dataclass
class Platform:
    """Everything a door needs to call services."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    cipher: Cipher
    clock: Clock
    hasher: PasswordHasher
    geocoder: Geocoder | None = None
    telephony: Telephony | None = None
    anchor_copy: AnchorCopy | None = None


def ensure_key_file(settings: Settings) -> Path:
    """Return the master key file; outside production create it on first use."""
    path = settings.master_key_path
    if not path.exists() and not settings.is_production:
        path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        MasterKeyRing.generate().save(path)
    return path


def sqlite_path(database_url: str) -> Path | None:
    """Return the file of a SQLite database URL (None for PostgreSQL or in-memory)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def secure_data_dir(settings: Settings) -> None:
    """Create the data directory (0700) and the SQLite database file (0600) private (§8).

    SQLite creates its ``-wal`` and ``-shm`` files with the mode of the database file,
    so creating that file 0600 first keeps all three private; files of an older
    installation that others could read are tightened.
    """
    _private(settings.data_dir, PRIVATE_DIR, create=True)
    path = sqlite_path(settings.database_url)
    if path is None:
        return
    _private(path.parent, PRIVATE_DIR, create=True, tighten=path.parent == settings.data_dir)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    for suffix in ("", "-wal", "-shm", "-journal"):
        _private(Path(f"{path}{suffix}"), PRIVATE_FILE)


def _private(path: Path, mode: int, *, create: bool = False, tighten: bool = True) -> None:
    if create:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    try:
        current = path.stat().st_mode & 0o777
        if tighten and current & 0o077:
            os.chmod(path, current & mode)
    except FileNotFoundError:
        return
    except PermissionError:
        log.warning("cannot make %s private (not its owner)", path.name)


def build_platform(settings: Settings, *, clock: Clock | None = None) -> Platform:
    """Wire engine, sessions, cipher, clock, password hasher and adapters from settings."""
    secure_data_dir(settings)
    # A violation of the write discipline raises in tests; elsewhere it is logged loudly.
    engine = make_engine(settings.database_url, strict_writes=settings.mode == "test")
    sessions = make_session_factory(engine)
    clock = clock or SystemClock()
    return Platform(
        settings=settings,
        engine=engine,
        sessions=sessions,
        cipher=KeyFileCipher(ensure_key_file(settings)),
        clock=clock,
        hasher=build_password_hasher(settings.security.password_hashing),
        geocoder=build_geocoder(settings),
        telephony=build_telephony(settings),
        anchor_copy=build_anchor_copy(settings.audit.anchor_syslog),
    )


def complete_platform(platform: Platform) -> Platform:
    """Build the configured adapters a platform assembled by hand (the tests') left out."""
    if platform.telephony is None:
        platform.telephony = build_telephony(platform.settings)
    if platform.geocoder is None:
        platform.geocoder = build_geocoder(platform.settings)
    return platform


def build_geocoder(settings: Settings) -> Geocoder:
    """The configured geocoder (R-25): the BAN, or the offline fake of the demo and tests."""
    if settings.geocoder.backend == "ban":
        return BanGeocoder(
            domain=settings.geocoder.ban_domain, timeout=settings.geocoder.timeout_seconds
        )
    # The fake knows the demo's addresses from the gazetteer the demo itself is placed by.
    return FakeGeocoder(demo_gazetteer())
