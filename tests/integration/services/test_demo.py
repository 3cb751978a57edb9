"""Demo data: three territories in three time zones, lines in every status, one user per role."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tgd.adapters.crypto import EnvelopeCipher
from tgd.db.models import BeneficiaryFile, ForceUnit, Territory, User, Zone
from tgd.domain.roles import Role
from tgd.services import files, lines
from tgd.services.demo import DEMO_PERSONS


def test_three_territories_in_three_time_zones(session: Session, demo: None) -> None:
    zones = set(session.scalars(select(Territory.timezone)))
    assert zones == {"Europe/Paris", "Indian/Reunion", "America/Miquelon"}


def test_lines_exist_in_each_status_but_closed(session: Session, demo: None) -> None:
    statuses = {v.status for v in lines.list_lines(session)}
    assert statuses >= {
        "en_stock",
        "en_attente",
        "mise_en_service",
        "affecte",
        "resiliation_demandee",
    }


def test_one_user_per_role(session: Session, demo: None) -> None:
    assert set(session.scalars(select(User.role))) == set(Role)


def test_every_unit_has_a_zone_and_a_priority_number(session: Session, demo: None) -> None:
    units = session.scalars(select(ForceUnit)).all()
    assert units and all(u.priority_number.startswith("+") for u in units)
    assert session.scalar(select(func.count(Zone.id))) == len(units)


def test_files_hold_the_demo_persons(session: Session, demo: None, cipher: EnvelopeCipher) -> None:
    names = {
        files.read_personal(session, f, cipher=cipher).last_name
        for f in session.scalars(select(BeneficiaryFile))
    }
    assert names == {p.last_name for p in DEMO_PERSONS.values()}
