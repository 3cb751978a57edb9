"""Line stock, activation and terminal swap (R-01, R-18), as services and through the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.adapters.clock import FrozenClock
from tgd.cli import main
from tgd.db.models import Line, Swap, Terminal
from tgd.domain.errors import Conflict
from tgd.domain.lifecycle import LineStatus
from tgd.domain.navettes import FieldErrors
from tgd.services import line_admin
from tgd.settings import Settings


def test_a_new_line_goes_to_stock_then_is_activated(
    session: Session, demo: None, clock: FrozenClock
) -> None:
    record = line_admin.add_to_stock(
        session,
        juridiction_insee="75056",
        order_no=8,
        msisdn="06 12 34 00 08",
        iccid="8933150000000000777",
        imei="350000000000777",
        clock=clock,
    )
    assert (record.reference, record.status) == ("M 75 75056 08 1", LineStatus.EN_STOCK)
    line_admin.activate(session, record, user_id=None, clock=clock)
    assert record.status is LineStatus.EN_ATTENTE
    with pytest.raises(Conflict, match="Seule une ligne en stock"):
        line_admin.activate(session, record, user_id=None, clock=clock)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"juridiction_insee": "99999"}, "juridiction"),
        ({"order_no": 0}, "order_no"),
        ({"imei": "1234"}, "imei"),
    ],
)
def test_bad_stock_entries_name_the_field(
    session: Session, demo: None, clock: FrozenClock, changes: dict[str, object], field: str
) -> None:
    values: dict[str, object] = {
        "juridiction_insee": "75056",
        "order_no": 9,
        "msisdn": "+33612340009",
        "iccid": None,
        "imei": None,
    }
    values.update(changes)
    with pytest.raises(FieldErrors) as refused:
        line_admin.add_to_stock(session, clock=clock, **values)  # type: ignore[arg-type]
    assert field in refused.value.errors


def test_swap_keeps_the_line_and_its_reference_and_times_the_delay(
    session: Session, demo: None, clock: FrozenClock
) -> None:
    line = session.scalars(select(Line).where(Line.msisdn == "+33612340001")).one()
    old_terminal, reference = line.terminal_id, line.assignments[-1].reference
    result = line_admin.swap_terminal(
        session,
        line,
        new_imei="351111111111111",
        cause="écran",
        reported_at=clock.now() - timedelta(hours=30),
        clock=clock,
    )
    assert result.is_late and result.delay == timedelta(hours=30)  # over 24 hours
    assert line.terminal is not None and line.terminal.imei == "351111111111111"
    assert line.assignments[-1].reference == reference  # the reference stays with the line
    old = session.get(Terminal, old_terminal)
    assert old is not None and old.is_faulty
    assert session.scalars(select(Swap)).one().new_terminal_id == line.terminal.id


def test_swap_in_time_is_not_late(session: Session, demo: None, clock: FrozenClock) -> None:
    line = session.scalars(select(Line).where(Line.msisdn == "+33612340002")).one()
    result = line_admin.swap_terminal(
        session,
        line,
        new_imei="352222222222222",
        cause="batterie",
        reported_at=clock.now() - timedelta(hours=3),
        clock=clock,
    )
    assert not result.is_late


def test_swap_refuses_a_known_terminal_and_a_future_report(
    session: Session, demo: None, clock: FrozenClock
) -> None:
    line = session.scalars(select(Line).where(Line.msisdn == "+33612340001")).one()
    known = session.scalars(select(Terminal.imei)).first()
    assert known is not None
    with pytest.raises(FieldErrors):
        line_admin.swap_terminal(
            session, line, new_imei=known, cause="x", reported_at=clock.now(), clock=clock
        )
    with pytest.raises(FieldErrors):
        line_admin.swap_terminal(
            session,
            line,
            new_imei="353333333333333",
            cause="x",
            reported_at=clock.now() + timedelta(hours=1),
            clock=clock,
        )


def test_lines_commands(settings: Settings, tmp_path: object) -> None:
    env = {
        "TGD_DATABASE_URL": settings.database_url,
        "TGD_DATA_DIR": str(settings.data_dir),
        "TGD_SECRET_KEY": "cli-secret-key-0123456789abcdef0123456789",
    }
    runner = CliRunner()
    for args in (["db", "upgrade"], ["demo", "load"]):
        assert runner.invoke(main, args, env=env).exit_code == 0
    help_text = runner.invoke(main, ["lines", "--help"], env=env).output
    assert "add" in help_text and "swap" in help_text
    rows = json.loads(runner.invoke(main, ["lines", "list", "--json"], env=env).output)
    assert any(r["status"] == "en_stock" for r in rows)
