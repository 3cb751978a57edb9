"""Lines: stock, references from the court's commune, lifecycle history, listing (R-01..R-03)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tgd.adapters.clock import FrozenClock
from tgd.db.models import Juridiction, LineStatusChange, Territory
from tgd.domain.errors import Conflict
from tgd.domain.lifecycle import LineStatus
from tgd.services import lines


@pytest.fixture
def paris(session: Session, clock: FrozenClock) -> Juridiction:
    territory = Territory(code="75", name="Paris", timezone="Europe/Paris")
    jur = Juridiction(insee="75056", name="TJ Paris", territory=territory)
    session.add(jur)
    session.flush()
    return jur


def test_new_line_is_in_stock_with_reference_y1(
    session: Session, paris: Juridiction, clock: FrozenClock
) -> None:
    record = lines.add_line(
        session,
        juridiction=paris,
        order_no=7,
        msisdn="06 12 34 56 78",
        iccid="8933150000000000001",
        imei="350000000000001",
        clock=clock,
    )
    assert record.reference == "M 75 75056 07 1"
    assert record.status is LineStatus.EN_STOCK
    assert record.line.msisdn == "+33612345678"


def test_same_number_twice_is_refused_and_nothing_is_half_written(
    session: Session, paris: Juridiction, clock: FrozenClock
) -> None:
    lines.add_line(session, juridiction=paris, order_no=1, msisdn="+33612345678", clock=clock)
    with pytest.raises(Conflict):
        lines.add_line(session, juridiction=paris, order_no=2, msisdn="+33612345678", clock=clock)
    assert [v.reference for v in lines.list_lines(session)] == ["M 75 75056 01 1"]


def test_status_changes_are_kept_in_history(
    session: Session, paris: Juridiction, clock: FrozenClock
) -> None:
    record = lines.add_line(
        session, juridiction=paris, order_no=1, msisdn="+33612345678", clock=clock
    )
    lines.change_status(session, record, LineStatus.EN_ATTENTE, user_id=None, clock=clock)
    with pytest.raises(Conflict):
        lines.change_status(session, record, LineStatus.CLOTURE, user_id=None, clock=clock)
    history = session.scalars(
        select(LineStatusChange.to_status)
        .where(LineStatusChange.assignment_id == record.id)
        .order_by(LineStatusChange.id)
    ).all()
    assert history == [LineStatus.EN_STOCK, LineStatus.EN_ATTENTE]
    assert record.status is LineStatus.EN_ATTENTE


def test_caller_is_found_by_number(
    session: Session, paris: Juridiction, clock: FrozenClock
) -> None:
    record = lines.add_line(
        session, juridiction=paris, order_no=1, msisdn="+33612345678", clock=clock
    )
    assert lines.find_current_by_msisdn(session, "+33612345678") is record
    assert lines.find_current_by_msisdn(session, "+33600000000") is None
