"""Line stock, activation and terminal swap (R-01, R-18), as services and through the CLI.

The test clock is Monday 23 November 2026, 10:30 in Paris; swap delays are opening hours
of the assistance centre (Monday–Saturday 9:00–18:00 local, CCP X.4).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import builders
from tgd.adapters.clock import FrozenClock
from tgd.cli import main
from tgd.db.models import AuditEntry, Juridiction, Line, Swap, Terminal
from tgd.domain.errors import Conflict
from tgd.domain.inventory import luhn_check_digit
from tgd.domain.lifecycle import LineStatus
from tgd.domain.navettes import FieldErrors
from tgd.services import inventory, line_admin
from tgd.settings import Settings


def imei(n: int) -> str:
    """Return a valid IMEI (Luhn check digit) numbered ``n``."""
    body = f"35111111{n:06d}"
    return body + str(luhn_check_digit(body))


@pytest.fixture
def paris(session: Session, clock: FrozenClock) -> Juridiction:
    """Give the Paris juridiction (75056), with its territory."""
    return builders.juridiction(session, insee="75056", clock=clock)


@pytest.fixture
def assigned(session: Session, paris: Juridiction, clock: FrozenClock) -> None:
    """Paris' lines 01 and 02, assigned, with the handsets they came with; a spare in stock."""
    numbers = ["+33612340001", "+33612340002"]
    builders.delivery(session, msisdns=numbers, spares=1, clock=clock)
    for order_no, msisdn in enumerate(numbers, start=1):
        builders.line(
            session,
            juridiction=paris,
            order_no=order_no,
            msisdn=msisdn,
            status=LineStatus.AFFECTE,
            clock=clock,
        )


def test_a_new_line_goes_to_stock_then_is_activated(
    session: Session, paris: Juridiction, clock: FrozenClock
) -> None:
    record = line_admin.add_to_stock(
        session,
        juridiction_insee="75056",
        order_no=8,
        msisdn="06 12 34 00 08",
        iccid="8933150000000000777",
        imei=imei(777),
        actor="system:cli",
        clock=clock,
    )
    assert (record.reference, record.status) == ("M 75 75056 08 1", LineStatus.EN_STOCK)
    line_admin.activate(session, record, user_id=None, actor="system:cli", clock=clock)
    assert record.status is LineStatus.EN_ATTENTE
    with pytest.raises(Conflict, match="Seule une ligne en stock"):
        line_admin.activate(session, record, user_id=None, actor="system:cli", clock=clock)
    # The service audits each action once, by the actor it is given.
    session.flush()
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.object_id == str(record.line_id))
    ).all()
    assert [(e.actor, e.action, e.object_type) for e in entries] == [
        ("system:cli", "line.add", "line"),
        ("system:cli", "line.activate", "line"),
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"juridiction_insee": "99999"}, "juridiction"),
        ({"order_no": 0}, "order_no"),
        ({"imei": "1234"}, "imei"),
        ({"imei": imei(5)[:-1] + str((int(imei(5)[-1]) + 1) % 10)}, "imei"),  # Luhn digit wrong
        ({"iccid": "1233150000000000777"}, "iccid"),  # an ICCID starts with 89 (E.118)
    ],
)
def test_bad_stock_entries_name_the_field(
    session: Session,
    paris: Juridiction,
    clock: FrozenClock,
    changes: dict[str, object],
    field: str,
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
        line_admin.add_to_stock(session, actor="system:cli", clock=clock, **values)  # type: ignore[arg-type]
    assert field in refused.value.errors


def test_swap_keeps_the_line_and_its_reference_and_times_the_delay_in_opening_hours(
    session: Session, assigned: None, clock: FrozenClock
) -> None:
    line = session.scalars(select(Line).where(Line.msisdn == "+33612340001")).one()
    old_terminal, reference = line.terminal_id, line.assignments[-1].reference
    # Thursday 10:30 to Monday 10:30 in Paris: 7.5 + 9 (Friday) + 9 (Saturday) + 0 (Sunday)
    # + 1.5 (Monday) = 27 opening hours, over the 24 of R-18 (96 calendar hours).
    result = line_admin.swap_terminal(
        session,
        line,
        new_imei=imei(1),
        cause="écran",
        reported_at=clock.now() - timedelta(days=4),
        actor="system:cli",
        clock=clock,
    )
    assert result.is_late and result.delay == timedelta(hours=27)
    assert line.terminal is not None and line.terminal.imei == imei(1)
    assert line.assignments[-1].reference == reference  # the reference stays with the line
    old = session.get(Terminal, old_terminal)
    assert old is not None and old.is_faulty
    swap = session.scalars(select(Swap)).one()
    assert swap.new_terminal_id == line.terminal.id and swap.under_warranty is True
    session.flush()
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "line.swap")).all()
    assert (entry.object_id, entry.details) == (str(line.id), {"late": True})


def test_a_report_before_opening_starts_its_clock_at_nine(
    session: Session, assigned: None, clock: FrozenClock
) -> None:
    line = session.scalars(select(Line).where(Line.msisdn == "+33612340002")).one()
    result = line_admin.swap_terminal(
        session,
        line,
        new_imei=imei(2),
        cause="batterie",
        reported_at=clock.now() - timedelta(hours=27),  # Sunday 07:30 in Paris
        actor="system:cli",
        clock=clock,
    )
    assert not result.is_late and result.delay == timedelta(hours=1, minutes=30)


def test_swap_takes_a_spare_from_stock(
    session: Session, assigned: None, clock: FrozenClock
) -> None:
    spare = inventory.stock_terminals(session)[0]
    line = session.scalars(select(Line).where(Line.msisdn == "+33612340002")).one()
    line_admin.swap_terminal(
        session,
        line,
        new_imei=spare.imei,
        cause="x",
        reported_at=clock.now(),
        actor="system:cli",
        clock=clock,
    )
    assert line.terminal is spare and spare.model == "TGD-1"
    assert spare not in inventory.stock_terminals(session)


def test_swap_refuses_a_busy_terminal_and_a_future_report(
    session: Session, assigned: None, clock: FrozenClock
) -> None:
    line = session.scalars(select(Line).where(Line.msisdn == "+33612340001")).one()
    other = session.scalars(select(Line).where(Line.msisdn == "+33612340002")).one()
    assert other.terminal is not None
    with pytest.raises(FieldErrors, match="équipe déjà une ligne"):
        line_admin.swap_terminal(
            session,
            line,
            new_imei=other.terminal.imei,
            cause="x",
            reported_at=clock.now(),
            actor="system:cli",
            clock=clock,
        )
    with pytest.raises(FieldErrors):
        line_admin.swap_terminal(
            session,
            line,
            new_imei=imei(3),
            cause="x",
            reported_at=clock.now() + timedelta(hours=1),
            actor="system:cli",
            clock=clock,
        )


def test_a_handset_out_of_warranty_is_never_late(
    session: Session, assigned: None, clock: FrozenClock
) -> None:
    line = session.scalars(select(Line).where(Line.msisdn == "+33612340001")).one()
    assert line.terminal is not None
    line.terminal.warranty_end = (clock.now() - timedelta(days=30)).date()
    result = line_admin.swap_terminal(
        session,
        line,
        new_imei=imei(4),
        cause="chute",
        reported_at=clock.now() - timedelta(days=6),
        actor="system:cli",
        clock=clock,
    )
    assert result.delay > timedelta(hours=24) and not result.is_late
    assert result.swap.under_warranty is False


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
    # Item 6: a time typed without its offset is the line's territory's wall clock. Saturday
    # 21 November 17:00 in Saint-Pierre (UTC-3) is 20:00 UTC: one opening hour that day.
    spare = next(
        t["imei"]
        for t in json.loads(runner.invoke(main, ["terminals", "list", "--json"], env=env).output)
        if t["status"] == "en_stock"
    )
    result = runner.invoke(
        main,
        [
            "lines",
            "swap",
            "M 975 97502 01 1",
            "--imei",
            spare,
            "--reported-at",
            "2026-11-21T17:00",
            "--swapped-at",
            "2026-11-21T17:45",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["delay_opening_hours"] == 0.75 and out["late"] is False
    assert out["deadline"] == "2026-11-25T17:00:00+00:00"  # Wednesday 14:00 in Saint-Pierre
