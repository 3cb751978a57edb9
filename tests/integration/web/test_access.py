"""Authorisation through HTTP (R-51): each role × each kind of object × own/other juridiction.

Paris ("own" for the scoped demo accounts of Paris) against La Réunion ("other").
Out of scope answers 404, the same as an id that does not exist (nothing leaks).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tgd.container import Platform
from tgd.db.models import Alert, BeneficiaryFile, Juridiction, Line, Navette, Territory
from tgd.db.writes import write_transaction
from tgd.domain.alerts import AlertNature, AlertState
from tgd.domain.lifecycle import NavetteKind, NavetteSource, NavetteState

Login = Callable[[str], FlaskClient]
KINDS = ("file", "alert", "navette", "line")
URLS = {
    "file": "/dossiers/{}",
    "alert": "/alertes/{}",
    "navette": "/navettes/{}",
    "line": "/lignes/{}",
}

# role -> kind -> (own, other)
ALL = (200, 200)
MINE = (200, 404)
NO = (403, 403)
MATRIX: dict[str, dict[str, tuple[int, int]]] = {
    "operateur": {"file": ALL, "alert": ALL, "navette": ALL, "line": ALL},
    "superviseur": {"file": ALL, "alert": ALL, "navette": ALL, "line": ALL},
    "parquet.paris": {"file": MINE, "alert": MINE, "navette": MINE, "line": NO},
    "association": {"file": MINE, "alert": NO, "navette": NO, "line": MINE},
    "comite": {"file": NO, "alert": NO, "navette": NO, "line": NO},
    "admin": {"file": NO, "alert": NO, "navette": NO, "line": ALL},
    "auditeur": {"file": NO, "alert": NO, "navette": NO, "line": NO},
}


@pytest.fixture
def objects(enrolled: None, platform: Platform) -> dict[str, dict[str, int]]:
    """One object of each kind in Paris (own) and in La Réunion (other)."""
    now = platform.clock.now()
    ids: dict[str, dict[str, int]] = {}
    with write_transaction(platform.sessions) as s:
        for side, insee in (("own", "75056"), ("other", "97411")):
            jur = s.scalars(select(Juridiction).where(Juridiction.insee == insee)).one()
            file = s.scalars(
                select(BeneficiaryFile).where(BeneficiaryFile.juridiction_id == jur.id)
            ).first()
            assert file is not None
            line = s.scalars(select(Line).where(Line.juridiction_id == jur.id)).first()
            assert line is not None
            territory = s.get(Territory, jur.territory_id)
            assert territory is not None
            alert = Alert(
                call_sid=f"CAaccess{side}",
                territory_id=territory.id,
                line_id=line.id,
                file_id=file.id,
                reference="M test",
                conference_name=f"tgd-access-{side}",
                state=AlertState.CLOSED,
                nature=AlertNature.DANGER_REEL,
                ringing_at=now - timedelta(hours=1),
                police_called_at=now - timedelta(minutes=55),  # seen by the parquet
            )
            navette = Navette(
                kind=NavetteKind.MISE_A_JOUR,
                source=NavetteSource.PORTAIL,
                state=NavetteState.RECUE,
                juridiction_id=jur.id,
                file_id=file.id,
                received_at=now,
            )
            s.add_all([alert, navette])
            s.flush()
            ids[side] = {"file": file.id, "alert": alert.id, "navette": navette.id, "line": line.id}
    return ids


@pytest.mark.parametrize("role", list(MATRIX))
def test_authorisation_matrix(role: str, login: Login, objects: dict[str, dict[str, int]]) -> None:
    client = login(role)
    got = {
        kind: (
            client.get(URLS[kind].format(objects["own"][kind])).status_code,
            client.get(URLS[kind].format(objects["other"][kind])).status_code,
        )
        for kind in KINDS
    }
    assert got == MATRIX[role]


def test_other_courts_file_looks_exactly_like_a_missing_one(
    login: Login, objects: dict[str, dict[str, int]]
) -> None:
    client = login("parquet.paris")
    other = client.get(f"/dossiers/{objects['other']['file']}")
    missing = client.get("/dossiers/999999")
    assert other.status_code == missing.status_code == 404
    assert other.get_data() == missing.get_data()
    assert "Payet-Démo" not in other.get_data(as_text=True)


def test_parquet_does_not_see_alerts_without_police_action(
    login: Login, objects: dict[str, dict[str, int]], platform: Platform
) -> None:
    with write_transaction(platform.sessions) as s:
        alert = s.get(Alert, objects["own"]["alert"])
        assert alert is not None
        alert.police_called_at = None
    assert login("parquet.paris").get(f"/alertes/{objects['own']['alert']}").status_code == 404


def test_parquet_list_holds_only_its_own_cases(
    login: Login, objects: dict[str, dict[str, int]]
) -> None:
    html = login("parquet.paris").get("/dossiers").get_data(as_text=True)
    assert "M 75 75056" in html and "M 974" not in html


def test_out_of_scope_reads_are_audited(
    login: Login, objects: dict[str, dict[str, int]], platform: Platform
) -> None:
    from tgd.db.models import AuditEntry

    login("comite").get(f"/dossiers/{objects['own']['file']}")
    with platform.sessions() as s:
        assert "access.denied" in s.scalars(select(AuditEntry.action)).all()


def test_file_reads_are_audited(
    login: Login, objects: dict[str, dict[str, int]], platform: Platform
) -> None:
    from tgd.db.models import AuditEntry

    login("operateur").get(f"/dossiers/{objects['own']['file']}")
    with platform.sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "file.read")).one()
        assert entry.object_id == str(objects["own"]["file"])


def test_anonymous_is_sent_to_login(
    client: FlaskClient, objects: dict[str, dict[str, int]]
) -> None:
    for kind in KINDS:
        response = client.get(URLS[kind].format(objects["own"][kind]))
        assert response.status_code == 302 and response.headers["Location"].endswith("/connexion")


def test_every_view_declares_its_access(app: Flask) -> None:
    """A view that says neither @public nor @requires is a hole (R-51)."""
    undeclared = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        and not rule.endpoint.startswith("gateway")  # machines: Twilio signature or HMAC
        and not hasattr(app.view_functions[rule.endpoint], "_tgd_access")
    ]
    assert undeclared == []
