"""Shared fixtures: settings, a database per test (SQLite, PostgreSQL when given), app, client.

Integration fixtures are parametrized over the backends: every test that asks
for ``engine`` runs on SQLite, and again on PostgreSQL when
``TGD_TEST_DATABASE_URL`` is set (``make test`` starts one). Each test gets an
empty database built from the models (migrations have their own tests).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import tgd.db.models  # noqa: F401 - registers every table
from tgd.adapters.clock import FrozenClock
from tgd.adapters.crypto import EnvelopeCipher, MasterKeyRing
from tgd.container import Platform
from tgd.db.base import Base
from tgd.db.session import make_engine, make_session_factory
from tgd.db.writes import WRITER_OPTION, write_transaction
from tgd.services.users import configure_hashing
from tgd.settings import Settings, load_settings

PG_URL = os.environ.get("TGD_TEST_DATABASE_URL", "")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    """Keep each phase's report on the test item (browser tests screenshot failures)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, "rep_" + report.when, report)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
STACK_DIR = Path(__file__).parent / "stack"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--stack``: run the failure drills of ``tests/stack`` (``make test-stack``)."""
    parser.addoption("--stack", action="store_true", help="run the drills against the stack")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave the drills out of ``make test``: ``make test-stack`` runs them (``--stack``)."""
    if collection_path == STACK_DIR and not config.getoption("--stack"):
        return True
    return None


def reset_postgres(url: str) -> None:
    """Empty the PostgreSQL test database (its public schema)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        # A connection an earlier test left open in a transaction would hold locks the
        # DROP waits on forever: end every other session of the test database first.
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        conn.execute(text("SET LOCAL lock_timeout = '60s'"))
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def stamp_revision(engine: Engine, revision: str) -> None:
    """Mark a test database (built from the models) as migrated to ``revision``."""
    with engine.connect().execution_options(**{WRITER_OPTION: True}) as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32))"))
        conn.execute(text("DELETE FROM alembic_version"))
        conn.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})
        conn.commit()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Give an empty database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tgd.db'}"
    if not PG_URL:
        pytest.skip("PostgreSQL not available: set TGD_TEST_DATABASE_URL (make test does)")
    reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Give test settings on the test database."""
    return load_settings(
        environ={
            "TGD_MODE": "test",
            "TGD_DATA_DIR": str(tmp_path / "data"),
            "TGD_DATABASE_URL": database_url,
            "TGD_SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
            "TGD_MASTER_KEY_FILE": str(tmp_path / "data" / "master.key"),
            "TGD_TWILIO_AUTH_TOKEN": "test0123456789abcdef0123456789ab",
            "TGD_PUBLIC_BASE_URL": "http://tgd.test",
            "TGD_SECURITY_PASSWORD_HASHING": "fast",
            # The in-process fake carrier queues its callbacks; tests deliver them themselves.
            "TGD_TWILIO_FAKE_CALL_PROGRESS": "false",
        }
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """Give an engine on a database with every table created.

    Strict: a write outside a write transaction raises (``tgd.db.writes``), in the code
    under test and in the tests' own set-up alike.
    """
    engine = make_engine(settings.database_url, strict_writes=True)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    """Give a clock frozen on a Monday morning, Paris time."""
    return FrozenClock(datetime(2026, 11, 23, 9, 30, tzinfo=UTC))


@pytest.fixture
def cipher() -> EnvelopeCipher:
    """Give a cipher with a fresh master key."""
    return EnvelopeCipher(MasterKeyRing.generate())


@pytest.fixture
def platform(
    settings: Settings, engine: Engine, cipher: EnvelopeCipher, clock: FrozenClock
) -> Platform:
    """Give the wiring the doors use, with the frozen clock."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_hashing(settings.security.password_hashing)
    return Platform(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        cipher=cipher,
        clock=clock,
    )


@pytest.fixture
def session(platform: Platform) -> Iterator[Session]:
    """Give the test's own session; it commits what it wants to be seen by others.

    The test's set-up and checks may write as they please: the write discipline is
    enforced on the code under test (which must never be handed this session while
    the app writes in the same thread).
    """
    unchecked = platform.engine.execution_options(**{WRITER_OPTION: True})
    with platform.sessions(bind=unchecked) as session:
        yield session
        session.rollback()


@pytest.fixture
def demo(platform: Platform) -> None:
    """Load the demo data, committed."""
    from tgd.services.demo import load_demo

    with write_transaction(platform.sessions) as session:
        load_demo(session, cipher=platform.cipher, clock=platform.clock)


@pytest.fixture
def app(platform: Platform) -> Flask:
    """Give the Flask app wired to the test platform."""
    from tgd.app import create_app, limiter

    app = create_app(platform.settings, platform=platform)
    limiter.reset()  # the limiter's memory storage outlives one app: start each test clean
    hub = app.extensions["tgd_hub"]

    @app.teardown_request
    def _publish_now(_error: BaseException | None) -> None:
        # In production the hub's own thread publishes what a commit added, at once; tests
        # publish at the end of each request instead, so what they assert is deterministic.
        # As in the hub's thread, a failure (the database gone) never fails the request.
        with contextlib.suppress(Exception):
            hub.publish()

    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Give a test client of the app."""
    return app.test_client()
