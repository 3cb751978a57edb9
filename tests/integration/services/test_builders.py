"""The test builders make the rows they promise, and only those."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import builders
from tgd.adapters.clock import FrozenClock
from tgd.adapters.crypto import EnvelopeCipher
from tgd.container import Platform
from tgd.db.models import (
    Alert,
    BeneficiaryFile,
    Juridiction,
    Line,
    LineAssignment,
    OrganisationKind,
    Territory,
    User,
)
from tgd.domain.alerts import AlertState
from tgd.domain.lifecycle import FileState, LineStatus
from tgd.domain.roles import Role
from tgd.services import files, inventory


def test_builders_make_a_small_centre(
    session: Session, cipher: EnvelopeCipher, platform: Platform, clock: FrozenClock
) -> None:
    jur = builders.juridiction(session, insee="97411", clock=clock)
    assert (jur.territory.code, jur.territory.timezone) == ("974", "Indian/Reunion")
    assert builders.juridiction(session, insee="97411", clock=clock) is jur
    record = builders.line(
        session, juridiction=jur, order_no=3, status=LineStatus.AFFECTE, clock=clock
    )
    assert (record.reference, record.status, record.line.msisdn) == (
        "M 974 97411 03 1",
        LineStatus.AFFECTE,
        "+33612340003",
    )
    file = builders.beneficiary_file(session, assignment=record, cipher=cipher, clock=clock)
    assert file.state is FileState.ATTRIBUE
    assert files.read_personal(session, file, cipher=cipher).last_name == "Martin-Test"
    parquet = builders.user(
        session,
        username="parquet.sd",
        role=Role.PARQUET,
        juridictions=["97411"],
        cipher=cipher,
        hasher=platform.hasher,
        clock=clock,
    )
    assert [j.insee for j in parquet.juridictions] == ["97411"]
    assert platform.hasher.verify(parquet.password_hash, builders.PASSWORD)
    alert = builders.alert(session, assignment=record, file=file, clock=clock)
    assert (alert.state, alert.reference, alert.file_id, alert.territory_id) == (
        AlertState.RINGING,
        "M 974 97411 03 1",
        file.id,
        jur.territory_id,
    )
    counted = [
        session.scalar(select(func.count()).select_from(model))
        for model in (Territory, Juridiction, Line, BeneficiaryFile, User, Alert)
    ]
    assert counted == [1, 1, 1, 1, 1, 1]


def test_builders_of_stock_courts_organisations_units_and_closed_files(
    session: Session, cipher: EnvelopeCipher, clock: FrozenClock
) -> None:
    paris = builders.juridiction(session, insee="75056", clock=clock)
    builders.delivery(session, msisdns=["+33612340001"], spares=2, clock=clock)
    record = builders.line(session, juridiction=paris, status=LineStatus.AFFECTE, clock=clock)
    terminal = record.line.terminal
    assert terminal is not None and terminal.model == builders.HANDSET_MODEL
    assert terminal.warranty_end is not None and terminal.warranty_end > clock.now().date()
    assert len(inventory.stock_terminals(session)) == 2
    parquet = builders.organisation(
        session, kind=OrganisationKind.PARQUET, juridiction=paris, clock=clock
    )
    assert parquet.name.startswith("Parquet") and parquet.juridictions == [paris]
    unit = builders.force_unit(session, territory=paris.territory, clock=clock)
    assert [z.valid_until for z in unit.zones] == [None]
    closed = builders.closed_file(
        session, juridiction=paris, closed_at=clock.now(), cipher=cipher, clock=clock
    )
    assert (closed.state, closed.closed_at) == (FileState.CLOTURE, clock.now())
    closing = session.get(LineAssignment, closed.assignment_id)
    assert closing is not None and closing.reference == "M 75 75056 04 1"
