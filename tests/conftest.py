"""Shared fixtures: settings, a database per test (SQLite, PostgreSQL when given), app, client.

Integration fixtures are parametrized over the backends: every test that asks
for ``engine`` runs on SQLite, and again on PostgreSQL when
``TGD_TEST_DATABASE_URL`` is set (``make test`` starts one). Each test gets a
database of its own built from the models (migrations have their own tests), with
the demo data already in it when the test asks for ``demo``.

Building the schema and loading the demo took two seconds per test, most of the
suite's time: each is built once per session as a template (a SQLite file, a
PostgreSQL template database) and each test gets a fresh copy (a file copy,
``CREATE DATABASE … TEMPLATE``). The templates are encrypted with the session's
master key ring, which every test's ``cipher`` uses (an immutable ring: a test
that rotates keys builds a new ring, never changes this one).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

import tgd.db.models  # noqa: F401 - registers every table
from tgd.adapters.clock import FrozenClock
from tgd.adapters.crypto import EnvelopeCipher, MasterKeyRing
from tgd.adapters.passwords import build_password_hasher
from tgd.container import Platform
from tgd.db.base import Base
from tgd.db.session import make_engine, make_session_factory
from tgd.db.writes import WRITER_OPTION, write_transaction
from tgd.settings import Settings, load_settings

PG_URL = os.environ.get("TGD_TEST_DATABASE_URL", "")
if PG_URL and os.environ.get("PYTEST_XDIST_WORKER"):  # pytest -n: a database per worker
    PG_URL = (
        make_url(PG_URL)
        .set(database=f"{make_url(PG_URL).database}_{os.environ['PYTEST_XDIST_WORKER']}")
        .render_as_string(hide_password=False)
    )
SESSION_RING = MasterKeyRing.generate()
# (backend, clock instant, password hashing, demo?) -> template: a file path or a database
_TEMPLATES: dict[tuple[str, str, str, bool], str] = {}


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


@pytest.fixture(scope="session", autouse=True)
def _worker_database() -> None:
    """Create this worker's PostgreSQL database (``pytest -n``) if it does not exist yet."""
    if not PG_URL:
        return
    name = make_url(PG_URL).database
    admin = _postgres_admin(PG_URL)
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


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
    """Give an empty database URL on each backend (``engine`` fills it from a template)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tgd.db'}"
    if not PG_URL:
        pytest.skip("PostgreSQL not available: set TGD_TEST_DATABASE_URL (make test does)")
    if "engine" not in request.fixturenames:
        reset_postgres(PG_URL)
    return PG_URL


def _fill_template(url: str, *, demo: bool, clock: FrozenClock, hashing: str) -> None:
    """Create every table at ``url``, and load the demo data when asked."""
    engine = make_engine(url, strict_writes=True)
    try:
        Base.metadata.create_all(engine)
        if demo:
            from tgd.services.demo import load_demo

            with write_transaction(make_session_factory(engine)) as session:
                load_demo(
                    session,
                    cipher=EnvelopeCipher(SESSION_RING),
                    hasher=build_password_hasher(hashing),
                    clock=clock,
                )
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:  # everything in the main file: it is what we copy
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()


def _postgres_admin(url: str) -> Engine:
    return make_engine(
        make_url(url).set(database="postgres").render_as_string(hide_password=False),
        watch_writes=False,
    ).execution_options(isolation_level="AUTOCOMMIT")


def _template(
    backend: str, url: str, root: Path, *, demo: bool, clock: FrozenClock, hashing: str
) -> str:
    """Return the template for this kind of database, built on first use."""
    key = (backend, clock.now().isoformat(), hashing, demo)
    if key not in _TEMPLATES:
        if backend == "sqlite":
            path = root / f"template-{len(_TEMPLATES)}.db"
            _fill_template(f"sqlite:///{path}", demo=demo, clock=clock, hashing=hashing)
            _TEMPLATES[key] = str(path)
        else:
            name = f"{make_url(url).database}_template_{len(_TEMPLATES)}"
            admin = _postgres_admin(url)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            _fill_template(
                make_url(url).set(database=name).render_as_string(False),
                demo=demo,
                clock=clock,
                hashing=hashing,
            )
            _TEMPLATES[key] = name
    return _TEMPLATES[key]


def _copy_template(backend: str, url: str, template: str) -> None:
    """Make the test's database a fresh copy of the template."""
    if backend == "sqlite":
        path = Path(make_url(url).database or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, path)
        path.chmod(0o600)
        return
    name = make_url(url).database
    admin = _postgres_admin(url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY WAL_LOG'))
    admin.dispose()


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
def engine(
    settings: Settings,
    clock: FrozenClock,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Engine]:
    """Give an engine on a database with every table created (and the demo, if asked).

    Strict: a write outside a write transaction raises (``tgd.db.writes``), in the code
    under test and in the tests' own set-up alike.
    """
    url = settings.database_url
    backend = make_url(url).get_backend_name()
    with_demo = "demo" in request.fixturenames
    template = _template(
        backend,
        url,
        tmp_path_factory.getbasetemp(),
        demo=with_demo,
        clock=clock,
        hashing=settings.security.password_hashing,
    )
    _copy_template(backend, url, template)
    engine = make_engine(url, strict_writes=True)
    if with_demo:
        _DEMO_LOADED.add(id(engine))
    yield engine
    _DEMO_LOADED.discard(id(engine))
    engine.dispose()


_DEMO_LOADED: set[int] = set()  # engines whose database came with the demo data


def _empty_database(engine: Engine) -> None:
    """Delete every row, identities restarted, as if the database were new."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.connect().execution_options(**{WRITER_OPTION: True}) as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())
        conn.commit()


@pytest.fixture
def clock() -> FrozenClock:
    """Give a clock frozen on a Monday morning, Paris time."""
    return FrozenClock(datetime(2026, 11, 23, 9, 30, tzinfo=UTC))


@pytest.fixture
def cipher() -> EnvelopeCipher:
    """Give a cipher on the session's master key ring (the templates are encrypted with it)."""
    return EnvelopeCipher(SESSION_RING)


@pytest.fixture
def platform(
    settings: Settings, engine: Engine, cipher: EnvelopeCipher, clock: FrozenClock
) -> Platform:
    """Give the wiring the doors use, with the frozen clock."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Platform(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        cipher=cipher,
        clock=clock,
        hasher=build_password_hasher(settings.security.password_hashing),
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
    if id(platform.engine) in _DEMO_LOADED:
        if getattr(platform.cipher, "ring", None) is SESSION_RING:
            return  # the database was copied from the demo template
        # This test's platform has a key ring of its own (a key file): the template's
        # demo is unreadable with it, so the demo is loaded again under its keys.
        _empty_database(platform.engine)
    from tgd.services.demo import load_demo

    with write_transaction(platform.sessions) as session:
        load_demo(session, cipher=platform.cipher, hasher=platform.hasher, clock=platform.clock)


@pytest.fixture
def app(platform: Platform) -> Flask:
    """Give the Flask app wired to the test platform."""
    from tgd.app import create_app, limiter

    app = create_app(platform.settings, platform=platform)
    limiter.reset()  # the limiter's memory storage outlives one app: start each test clean
    hub = app.extensions["tgd_hub"]

    def _publish_now(_error: BaseException | None) -> None:
        # In production the hub's own thread publishes what a commit added, at once; tests
        # publish at the end of each request instead, so what they assert is deterministic.
        # As in the hub's thread, a failure (the database gone) never fails the request.
        with contextlib.suppress(Exception):
            hub.publish()

    for door in (app, app.extensions["tgd.gateway.door"]):
        door.teardown_request(_publish_now)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Give a test client of the app."""
    return app.test_client()
