"""The platform refuses a database that could not keep every alert (E-01)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tgd.db import session as db_session
from tgd.db.session import DurabilityError, check_durability, make_engine


def test_a_sqlite_of_today_is_accepted(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'tgd.db'}", watch_writes=False)
    try:
        check_durability(engine)
    finally:
        engine.dispose()


def test_a_sqlite_without_returning_is_refused_before_any_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A webhook's receipt is claimed with INSERT ... RETURNING (SQLite 3.35 and later).
    monkeypatch.setattr(db_session, "SQLITE_MINIMUM", (99, 0, 0))
    engine = make_engine(f"sqlite:///{tmp_path / 'tgd.db'}", watch_writes=False)
    try:
        with pytest.raises(DurabilityError, match=r"cannot record alerts: 99\.0\.0 or later"):
            check_durability(engine)
    finally:
        engine.dispose()
