"""Alembic: every revision upgrades and downgrades cleanly, and the result equals the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from tgd.db import migrate
from tgd.db.base import Base
from tgd.db.session import make_engine


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(url: str) -> None:
    migrate.upgrade(url)
    assert _tables(url) == set(Base.metadata.tables)
    migrate.downgrade(url, "base")
    assert _tables(url) == set()
    migrate.upgrade(url)
    assert (
        migrate.current(url)
        == ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
    )


def test_each_revision_steps_down_and_up(url: str) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    revisions = [r.revision for r in script.walk_revisions("base", "heads")][::-1]
    for revision in revisions:
        migrate.upgrade(url, revision)
        assert migrate.current(url) == revision
    for _ in revisions:
        migrate.downgrade(url, "-1")
    assert migrate.current(url) is None


def test_migrated_schema_equals_the_models(url: str) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
