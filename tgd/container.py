"""The platform's wiring, built once per process from settings (no hidden singletons).

``build_platform(settings)`` opens the database, loads (or, outside
production, creates) the master key ring and returns a ``Platform`` that the
Flask app, the CLI, the gateway and the scheduler all use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tgd.adapters.anchor_syslog import build_anchor_copy
from tgd.adapters.clock import SystemClock
from tgd.adapters.crypto import EnvelopeCipher, KeyFileCipher, MasterKeyRing
from tgd.adapters.geocoder import BanGeocoder, CachedGeocoder, FakeGeocoder
from tgd.adapters.twilio_telephony import build_telephony
from tgd.db.session import make_engine, make_session_factory
from tgd.ports import AnchorCopy, Clock, Geocoder, Telephony
from tgd.services import users
from tgd.settings import Settings


@dataclass
class Platform:
    """Everything a door needs to call services."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    cipher: EnvelopeCipher
    clock: Clock
    geocoder: Geocoder | None = None
    telephony: Telephony | None = None
    anchor_copy: AnchorCopy | None = None


def ensure_key_file(settings: Settings) -> Path:
    """Return the master key file; outside production create it on first use."""
    path = settings.master_key_path
    if not path.exists() and not settings.is_production:
        path.parent.mkdir(parents=True, exist_ok=True)
        MasterKeyRing.generate().save(path)
    return path


def build_platform(settings: Settings, *, clock: Clock | None = None) -> Platform:
    """Wire engine, sessions, cipher and clock from settings."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    users.configure_hashing(settings.security.password_hashing)
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
        geocoder=build_geocoder(settings, sessions, clock),
        telephony=build_telephony(settings),
        anchor_copy=build_anchor_copy(settings.audit.anchor_syslog),
    )


def build_geocoder(settings: Settings, sessions: sessionmaker[Session], clock: Clock) -> Geocoder:
    """The configured geocoder behind the database cache (R-25)."""
    inner: Geocoder
    if settings.geocoder.backend == "ban":
        inner = BanGeocoder(
            domain=settings.geocoder.ban_domain, timeout=settings.geocoder.timeout_seconds
        )
    else:
        from tgd.services.demo import DEMO_PERSONS

        known = {
            address.one_line(): (address.lat, address.lon)
            for person in DEMO_PERSONS.values()
            for address in (person.residence, person.workplace)
            if address.lat is not None and address.lon is not None
        }
        inner = FakeGeocoder(known)
    return CachedGeocoder(inner, sessions, secret=settings.secret_key or "tgd-geocode", clock=clock)
