"""Terminal inventory: delivery notes all or nothing, the listing, lines taking kits from stock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import builders
from tgd.adapters.clock import FrozenClock
from tgd.cli import main
from tgd.db.models import AuditEntry, Delivery, Juridiction, Sim, Terminal
from tgd.domain.errors import Conflict
from tgd.domain.inventory import DeliveryRejected, luhn_check_digit
from tgd.services import inventory, lines
from tgd.settings import Settings

HEADER = "imei,iccid,msisdn,model,warranty_end"


def imei(n: int) -> str:
    body = f"35444444{n:06d}"
    return body + str(luhn_check_digit(body))


def note(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def kit(n: int) -> str:
    return f"{imei(n)},89331503190099{n:05d},+3361299{n:04d},Modèle A,2028-06-30"


@pytest.fixture
def paris(session: Session, clock: FrozenClock) -> Juridiction:
    """Give the Paris juridiction (75056), with its territory, and nothing else."""
    return builders.juridiction(session, insee="75056", clock=clock)


def counts(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count(Terminal.id))) or 0,
        session.scalar(select(func.count(Sim.id))) or 0,
        session.scalar(select(func.count(Delivery.id))) or 0,
    )


def test_a_note_with_one_faulty_row_imports_nothing(session: Session, clock: FrozenClock) -> None:
    before = counts(session)
    bad = imei(3)[:-1] + str((int(imei(3)[-1]) + 1) % 10)
    faulty = note(kit(1), kit(2), f"{bad},8933150319009900003,+33612990003,Modèle A,2028-06-30")
    with pytest.raises(DeliveryRejected) as rejected:
        inventory.import_delivery(
            session, faulty, filename="b.csv", actor="system:test", clock=clock
        )
    assert [e.line for e in rejected.value.errors] == [4]
    assert counts(session) == before


def test_a_valid_note_is_imported_and_listed(session: Session, clock: FrozenClock) -> None:
    before = counts(session)
    spare = f"{imei(9)},,,Modèle B,2027-01-31"
    delivery = inventory.import_delivery(
        session,
        note(kit(1), kit(2), spare),
        filename="C:\\Livraisons\\bordereau.csv",
        actor="system:test",
        clock=clock,
    )
    assert (delivery.filename, delivery.terminals, delivery.sims) == ("bordereau.csv", 3, 2)
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "inventory.import"))
    assert (entry.actor, entry.object_id, entry.details) == (
        "system:test",
        str(delivery.id),
        {"terminals": 3, "sims": 2},
    )
    assert counts(session) == (before[0] + 3, before[1] + 2, before[2] + 1)
    listed = {v.imei: v for v in inventory.list_terminals(session)}
    assert listed[imei(1)].as_json() == {
        "imei": imei(1),
        "iccid": "8933150319009900001",
        "msisdn": "+33612990001",
        "model": "Modèle A",
        "warranty_end": "2028-06-30",
        "reference": None,
        "juridiction": None,
        "status": "en_stock",
        "delivery": delivery.id,
    }
    assert listed[imei(9)].iccid is None and listed[imei(9)].status == "en_stock"


def test_the_same_note_twice_is_refused_line_by_line(session: Session, clock: FrozenClock) -> None:
    inventory.import_delivery(
        session, note(kit(1), kit(2)), filename="b", actor="system:test", clock=clock
    )
    with pytest.raises(DeliveryRejected) as rejected:
        inventory.import_delivery(
            session, note(kit(1), kit(2)), filename="b", actor="system:test", clock=clock
        )
    messages = [(e.line, e.message) for e in rejected.value.errors]
    assert (2, f"Le terminal {imei(1)} est déjà enregistré.") in messages
    assert (3, "La carte SIM 8933150319009900002 est déjà enregistrée.") in messages
    assert (3, "Le numéro +33612990002 est déjà enregistré.") in messages


def test_a_number_already_on_a_line_is_a_duplicate(
    session: Session, paris: Juridiction, clock: FrozenClock
) -> None:
    builders.line(session, juridiction=paris, order_no=1, msisdn="+33612340001", clock=clock)
    row = f"{imei(1)},8933150319009900001,+33612340001,Modèle A,2028-06-30"  # line 01
    with pytest.raises(DeliveryRejected, match="1 erreur"):
        inventory.import_delivery(
            session, note(row), filename="b", actor="system:test", clock=clock
        )


def test_a_new_line_takes_its_sim_and_handset_from_stock(
    session: Session, paris: Juridiction, clock: FrozenClock
) -> None:
    inventory.import_delivery(session, note(kit(1)), filename="b", actor="system:test", clock=clock)
    record = lines.add_line(
        session, juridiction=paris, order_no=9, msisdn="06 12 99 00 01", clock=clock
    )
    line = record.line
    assert line.sim is not None and line.sim.iccid == "8933150319009900001"
    assert line.terminal is not None and line.terminal.imei == imei(1)
    listed = {v.imei: v for v in inventory.list_terminals(session)}[imei(1)]
    assert (listed.reference, listed.status, listed.juridiction) == (
        "M 75 75056 09 1",
        "en_service",
        "75056",
    )
    with pytest.raises(Conflict, match="équipe déjà une ligne"):
        lines.add_line(
            session,
            juridiction=paris,
            order_no=10,
            msisdn="+33612990010",
            imei=imei(1),
            clock=clock,
        )


def test_a_stock_sim_cannot_change_its_number(
    session: Session, paris: Juridiction, clock: FrozenClock
) -> None:
    inventory.import_delivery(session, note(kit(1)), filename="b", actor="system:test", clock=clock)
    with pytest.raises(Conflict, match="porte le numéro"):
        lines.add_line(
            session,
            juridiction=paris,
            order_no=9,
            msisdn="+33612990077",
            iccid="8933150319009900001",
            clock=clock,
        )


def _env(settings: Settings) -> dict[str, str]:
    return {
        "TGD_DATABASE_URL": settings.database_url,
        "TGD_DATA_DIR": str(settings.data_dir),
        "TGD_SECRET_KEY": "cli-secret-key-0123456789abcdef0123456789",
        "TGD_SECURITY_PASSWORD_HASHING": "fast",
        "TGD_CONFIG": "",
    }


def test_inventory_commands_all_or_nothing(settings: Settings, tmp_path: Path) -> None:
    env, runner = _env(settings), CliRunner()
    for args in (["db", "upgrade"], ["demo", "load"]):
        assert runner.invoke(main, args, env=env).exit_code == 0

    def listed() -> dict[str, dict[str, object]]:
        result = runner.invoke(main, ["terminals", "list", "--json"], env=env)
        assert result.exit_code == 0, result.output
        return {t["imei"]: t for t in json.loads(result.output)}

    before = listed()
    assert any(t["reference"] == "M 75 75056 01 1" for t in before.values())
    bad = tmp_path / "mauvais.csv"
    wrong = imei(3)[:-1] + str((int(imei(3)[-1]) + 1) % 10)
    bad.write_bytes(note(kit(1), kit(2), f"{wrong},8933150319009900003,+33612990003,A,2028-06-30"))
    result = runner.invoke(main, ["inventory", "import", str(bad)], env=env)
    assert result.exit_code == 1
    assert f"ligne 4 : L'IMEI {wrong} est faux" in result.output
    assert "Traceback" not in result.output
    assert listed() == before
    good = tmp_path / "bon.csv"
    good.write_bytes(note(kit(1), kit(2)))
    result = runner.invoke(main, ["inventory", "import", str(good)], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["terminals"] == 2
    after = listed()
    assert after[imei(1)]["reference"] is None and after[imei(2)]["msisdn"] == "+33612990002"
    again = runner.invoke(main, ["inventory", "import", str(good)], env=env)
    assert again.exit_code == 1 and "ligne 2 : Le terminal" in again.output
    missing = runner.invoke(main, ["inventory", "import", str(tmp_path / "absent.csv")], env=env)
    assert missing.exit_code == 1 and "impossible de lire" in missing.output
