"""Honest health: is the schema at the head revision, is Redis there, does a scheduler lead?

``/healthz`` says only that the process answers. ``/readyz`` (and the start-up
check of ``tgd run`` and ``tgd scheduler``) asks the dependencies: the database
answers and its schema is at the head revision of the code's migrations, Redis
answers when configured, and the scheduler lease was renewed recently by someone.
Every check only reads: a probe hit every few seconds by a load balancer never
takes the write gate.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


class NotMigrated(RuntimeError):
    """The database's schema is not the code's (never migrated, or behind)."""


@dataclass
class Readiness:
    """The answer of ``/readyz``: ready or not, and why."""

    checks: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """Tell whether every check passed."""
        return not self.problems

    def fail(self, name: str, state: str, reason: str) -> None:
        """Record a failed check."""
        self.checks[name] = state
        self.problems.append(reason)


@functools.cache
def head_revision() -> str:
    """Return the head revision of the migrations shipped with this code."""
    from alembic.script import ScriptDirectory

    from tgd.db.migrate import alembic_config

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: merge them")
    return str(heads[0])


def current_revision(engine: Engine) -> str | None:
    """Return the database's revision (None when never migrated); reads only, logs nothing."""
    with engine.connect() as conn:
        try:
            if not inspect(conn).has_table("alembic_version"):
                return None
            versions = sorted(
                conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            )
        finally:
            conn.rollback()
    return ",".join(versions) or None


def require_migrated(engine: Engine) -> str:
    """Refuse to serve a database whose schema is not at the head revision."""
    current, head = current_revision(engine), head_revision()
    if current is None:
        raise NotMigrated(
            "la base de données n'est pas migrée (aucune révision) : lancez « tgd db upgrade » "
            "avant de démarrer"
        )
    if current != head:
        raise NotMigrated(
            f"la base de données est à la révision {current}, le code attend {head} : "
            "lancez « tgd db upgrade » avant de démarrer"
        )
    return current


def check(
    engine: Engine,
    sessions: sessionmaker[Session],
    *,
    redis_url: str = "",
    scheduler_stale: timedelta = timedelta(seconds=60),
) -> Readiness:
    """Check the database, its schema, Redis and the scheduler lease (reads only)."""
    result = Readiness()
    try:
        current = current_revision(engine)
    except Exception as exc:  # any failure to reach the database means "not ready"
        result.fail("database", "unreachable", f"database unreachable ({type(exc).__name__})")
        current = None
    else:
        result.checks["database"] = "ok"
        head = head_revision()
        if current != head:
            result.fail(
                "schema",
                current or "none",
                f"schema at revision {current or 'none'}, head is {head}: run 'tgd db upgrade'",
            )
        else:
            result.checks["schema"] = "head"
    if redis_url:
        try:
            ping_redis(redis_url)
            result.checks["redis"] = "ok"
        except Exception as exc:  # connection refused, timeout, auth…
            result.fail("redis", "unreachable", f"redis unreachable ({type(exc).__name__})")
    if result.checks.get("schema") == "head":
        _check_scheduler(sessions, result, scheduler_stale)
    return result


def _check_scheduler(sessions: sessionmaker[Session], result: Readiness, stale: timedelta) -> None:
    from tgd.db.models.operations import SchedulerLease
    from tgd.db.session import read_transaction
    from tgd.jobs.lease import SCHEDULER, wall_now

    try:
        with read_transaction(sessions) as session:
            expires = session.scalar(
                select(SchedulerLease.expires_at).where(SchedulerLease.name == SCHEDULER)
            )
    except Exception as exc:
        result.fail("scheduler", "unknown", f"scheduler lease unreadable ({type(exc).__name__})")
        return
    # A live leader renews its lease every third of its lifetime: an expiry that lies
    # more than ``stale`` in the past means nobody has led for that long.
    if expires is None:
        result.fail("scheduler", "none", "no scheduler holds the lease")
    elif expires < wall_now() - stale:
        result.fail("scheduler", "stale", "the scheduler lease has not been renewed recently")
    else:
        result.checks["scheduler"] = "ok"


def ping_redis(url: str, *, timeout: float = 1.0) -> None:
    """Raise unless Redis answers PING within ``timeout`` seconds."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()
