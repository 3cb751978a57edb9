"""Alembic environment: the database comes from TGD settings or from the caller's connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import tgd.db.models  # noqa: F401 - registers every table on Base.metadata
from tgd.db.base import Base
from tgd.db.session import make_engine
from tgd.settings import load_settings

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTER goes through copies
    )


def run_migrations_online() -> None:
    """Run migrations on the given connection, or on the configured database."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.attributes.get("database_url") or load_settings().database_url
    engine = make_engine(url, sqlite_foreign_keys=False, watch_writes=False)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
            if conn.dialect.name == "sqlite":
                # Foreign keys were off so that tables could be rebuilt: check them now.
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run against a database")
run_migrations_online()
