"""The test builders make the rows they promise, and only those."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests import builders
from tgd.adapters.clock import FrozenClock
from tgd.adapters.crypto import EnvelopeCipher
from tgd.container import Platform
from tgd.db.models import Alert, BeneficiaryFile, Juridiction, Line, Territory, User
from tgd.domain.alerts import AlertState
from tgd.domain.lifecycle import FileState, LineStatus
from tgd.domain.roles import Role
from tgd.services import files


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
