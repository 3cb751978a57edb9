"""Session helpers: batches loaded once, then found without a query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from tests import builders
from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models.territories import Territory
from tgd.db.session import preload


def test_rows_preloaded_are_found_without_a_query(
    platform: Platform, session: Session, clock: FrozenClock
) -> None:
    ids = [builders.territory(session, code=code, clock=clock).id for code in ("75", "974")]
    session.commit()
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with platform.sessions() as batch:
        assert {t.id for t in preload(batch, Territory, [*ids, None])} == set(ids)
        event.listen(platform.engine, "before_cursor_execute", count)
        try:
            names = [batch.get(Territory, i).name for i in ids]  # type: ignore[union-attr]
        finally:
            event.remove(platform.engine, "before_cursor_execute", count)
    assert len(names) == 2
    assert statements == []  # the identity map held them: no SELECT per row
