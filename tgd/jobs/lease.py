"""Leases in the database (E-06, R-33): exactly one holder at a time, taken over when it expires.

A lease is a row (``scheduler_leases``) naming its holder and when it
expires. ``acquire`` renews the caller's own lease or takes an expired one
in a single conditional ``UPDATE`` (PostgreSQL re-checks the condition
after a concurrent update, SQLite serialises writers), and inserts the row
the first time; the unique name makes a second insert fail. A holder that
dies simply stops renewing, and another takes over once the lease expires.
Leases are timed with the machine's clock, never the injectable one: a
process running "as if it were" another date must not fool the others.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tgd.db.models.operations import SchedulerLease
from tgd.db.writes import Priority, write_transaction

SCHEDULER = "scheduler"


def new_holder() -> str:
    """Return a holder id naming this process (host, pid, random suffix); no personal data."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def wall_now() -> datetime:
    """Return the machine's time in UTC (leases never follow a frozen clock)."""
    return datetime.now(UTC)


def acquire(
    sessions: sessionmaker[Session],
    name: str,
    holder: str,
    ttl: timedelta,
    *,
    timeout: float | None = None,
) -> datetime | None:
    """Take or renew the lease; return until when it is held, or None when another holds it."""
    now = wall_now()
    until = now + ttl
    try:
        with write_transaction(
            sessions, priority=Priority.PEOPLE, timeout=timeout, label=f"lease {name}"
        ) as session:
            result = session.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == name,
                    or_(SchedulerLease.holder == holder, SchedulerLease.expires_at < now),
                )
                .values(holder=holder, expires_at=until)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:
                return until
            if session.scalar(select(SchedulerLease.name).where(SchedulerLease.name == name)):
                return None
            session.add(SchedulerLease(name=name, holder=holder, expires_at=until))
    except IntegrityError:
        return None  # another process inserted it first (PostgreSQL)
    return until


def release(sessions: sessionmaker[Session], name: str, holder: str) -> None:
    """Give the lease up at once (clean shutdown), if we still hold it."""
    with write_transaction(sessions, priority=Priority.PEOPLE, label=f"lease {name}") as session:
        session.execute(
            delete(SchedulerLease).where(
                SchedulerLease.name == name, SchedulerLease.holder == holder
            )
        )


def current_holder(sessions: sessionmaker[Session], name: str = SCHEDULER) -> str | None:
    """Return who holds a lease that has not expired, if anyone."""
    with sessions() as session:
        lease = session.get(SchedulerLease, name)
        if lease is None or lease.expires_at < wall_now():
            return None
        return lease.holder
