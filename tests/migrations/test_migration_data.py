"""Alembic with rows in the tables: every revision carries them up and down.

The empty-schema round trips of ``test_migrations.py`` cannot see a migration that
loses or corrupts rows (a table rebuilt without a column's values, a backfill that
writes the wrong value, a downgrade that drops more than what its revision added).
Here, as in SecureDrop's migration tests, each revision R is tried with data:

1. the seed (``revision_data.SEED``) is written at the first revision, carried to R's
   parent, and R's data layer adds the rows its tables need there;
2. upgrade to R: every row is still there with every value, and the new columns of
   existing rows hold what a reader expects (server default, backfill);
3. the data layer fills what R created (new tables, new columns);
4. downgrade to R's parent: the database is exactly as it was before step 2 (but for
   tables R drops on purpose, which come back empty);
5. upgrade to R again: the database is exactly as it was after step 2.

And a small centre (a territory, its juridiction, a line, a beneficiary file, alerts,
users) goes from the first revision to the head and back down to the first revision.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from tests.migrations.revision_data import (
    LAYERS,
    Layer,
    all_added,
    all_lost,
    carried_up,
    same,
    seed,
    seeded,
    snapshot,
)
from tgd.db import migrate
from tgd.db.session import make_engine

SCRIPT = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
REVISIONS = [r.revision for r in SCRIPT.walk_revisions("base", "heads")][::-1]
FIRST = REVISIONS[0]


@pytest.fixture
def rows(url: str) -> Iterator[Engine]:
    """Give an engine to write and read rows with Core, beside the migrations' own."""
    engine = make_engine(url, watch_writes=False)
    yield engine
    engine.dispose()


def _parent(revision: str) -> str:
    down = SCRIPT.get_revision(revision).down_revision
    assert isinstance(down, str), f"{revision}: expected one parent, got {down!r}"
    return down


def test_every_revision_after_the_first_has_a_data_layer() -> None:
    assert [layer.revision for layer in LAYERS] == REVISIONS[1:], (
        "a new revision needs its layer in tests/migrations/revision_data.py"
    )


def test_first_revision_takes_the_seed_and_base_drops_it(url: str, rows: Engine) -> None:
    migrate.upgrade(url, FIRST)
    with rows.begin() as conn:
        seed(conn)
    written = snapshot(rows)
    assert seeded(written) == []

    migrate.downgrade(url, "base")
    assert snapshot(rows) == {}

    migrate.upgrade(url, FIRST)
    assert same(written, snapshot(rows), emptied=written) == []


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.revision)
def test_revision_carries_rows_up_and_down(url: str, rows: Engine, layer: Layer) -> None:
    parent = _parent(layer.revision)
    migrate.upgrade(url, FIRST)
    with rows.begin() as conn:
        seed(conn)
    migrate.upgrade(url, parent)
    with rows.begin() as conn:
        layer.before(conn)
    before = snapshot(rows)

    migrate.upgrade(url, layer.revision)
    upgraded = snapshot(rows)
    assert carried_up(before, upgraded, layer.added, layer.lost) == []
    created = sorted(set(upgraded) - set(before))
    assert [name for name in created if upgraded[name].rows] == [], "new tables start empty"

    with rows.begin() as conn:
        layer.after(conn)
    used = snapshot(rows)
    assert [name for name in created if not used[name].rows] == [], (
        "the data layer must put rows in every table the revision creates"
    )

    migrate.downgrade(url, parent)
    assert same(before, snapshot(rows), emptied=layer.lost) == []

    migrate.upgrade(url, layer.revision)
    assert same(upgraded, snapshot(rows)) == []


def test_a_small_centre_goes_to_the_head_and_back(url: str, rows: Engine) -> None:
    migrate.upgrade(url, FIRST)
    with rows.begin() as conn:
        seed(conn)
    first = snapshot(rows)
    assert seeded(first) == []

    migrate.upgrade(url)
    head = snapshot(rows)
    assert carried_up(first, head, all_added(), all_lost()) == []
    with rows.connect() as conn:
        found = conn.execute(
            text(
                "SELECT t.code, t.timezone, j.insee, l.msisdn, s.msisdn, f.number, a.reference,"
                " a.state, a.callback_count, u.username, u.role, i.status"
                " FROM alerts a"
                " JOIN territories t ON t.id = a.territory_id"
                " JOIN lines l ON l.id = a.line_id"
                " JOIN juridictions j ON j.id = l.juridiction_id"
                " JOIN sims s ON s.id = l.sim_id"
                " JOIN beneficiary_files f ON f.id = a.file_id"
                " JOIN users u ON u.id = a.operator_id"
                " JOIN incidents i ON i.line_id = l.id AND i.resolved_at IS NULL"
                " WHERE a.call_sid = :sid"
            ),
            {"sid": "CA00000000000000000000000000000001"},
        ).one()
    assert tuple(found) == (
        "974",
        "Indian/Reunion",
        "97411",
        "+262692000001",
        "+262692000001",
        "D-2026-0001",
        "974-0001-01",
        "closed",
        0,
        "operatrice1",
        "operator",
        "ouvert",
    )

    # Everything the later revisions added gets rows, so that the way down drops them.
    with rows.begin() as conn:
        for layer in LAYERS:
            layer.after(conn)
    filled = snapshot(rows)
    assert [name for name in sorted(set(filled) - set(first)) if not filled[name].rows] == []

    migrate.downgrade(url, FIRST)
    assert same(first, snapshot(rows)) == []

    migrate.upgrade(url)
    assert same(head, snapshot(rows)) == []
