"""Authorisation through HTTP (R-51): each role × each kind of object × own/other juridiction.

Paris ("own" for the scoped demo accounts of Paris) against La Réunion ("other").
Out of scope answers 404, the same as an id that does not exist (nothing leaks), on
every route that takes an id; the lists inside pages follow the same rules (R-27).
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from collections.abc import Callable
from datetime import timedelta
from types import ModuleType

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tgd.container import Platform
from tgd.db.models import Alert, BeneficiaryFile, Juridiction, Line, Navette, Territory, User
from tgd.db.writes import write_transaction
from tgd.domain.alerts import AlertNature, AlertState
from tgd.domain.lifecycle import NavetteKind, NavetteSource, NavetteState
from tgd.services import exports, navettes

Login = Callable[[str], FlaskClient]
KINDS = ("file", "alert", "navette", "line", "message", "export")
URLS = {
    "file": "/dossiers/{}",
    "alert": "/alertes/{}",
    "navette": "/navettes/{}",
    "line": "/lignes/{}",
    "message": "/parquet/messages/{}",  # what the centre told the parquet
    "export": "/parquet/exports/{}",  # the nominative closure export
}

# role -> kind -> (own, other)
ALL = (200, 200)
MINE = (200, 404)
NO = (403, 403)
# The role table of docs/security.md; messages and exports go to operators, supervisors
# and the court's parquet only.
MATRIX: dict[str, dict[str, tuple[int, int]]] = {
    "operateur": {k: ALL for k in KINDS},
    "superviseur": {k: ALL for k in KINDS},
    "parquet.paris": {
        "file": MINE,
        "alert": MINE,
        "navette": MINE,
        "line": NO,
        "message": MINE,
        "export": MINE,
    },
    "association": {
        "file": MINE,
        "alert": NO,
        "navette": NO,
        "line": MINE,
        "message": NO,
        "export": NO,
    },
    "comite": {k: NO for k in KINDS},
    "admin": {**{k: NO for k in KINDS}, "line": ALL},
    "auditeur": {k: NO for k in KINDS},
}
SCOPED_ROLES = ("parquet.paris", "parquet.reunion", "association", "comite")


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
            # A test call and an alert without police action: not for the parquet.
            quiet = [
                Alert(
                    call_sid=f"CAaccess{side}{n}",
                    territory_id=territory.id,
                    line_id=line.id,
                    file_id=file.id,
                    reference="M test",
                    conference_name=f"tgd-access-{side}-{n}",
                    state=AlertState.CLOSED,
                    nature=nature,
                    is_test=nature is AlertNature.ESSAI,
                    ringing_at=now - timedelta(hours=2 + n),
                )
                for n, nature in enumerate((AlertNature.ESSAI, AlertNature.ACCIDENTEL))
            ]
            s.add_all([alert, navette, *quiet])
            s.flush()
            operator = s.scalars(select(User).where(User.username == "operateur")).one()
            message = navettes.send_to_parquet(
                s,
                file,
                text="Information",
                user=operator,
                cipher=platform.cipher,
                clock=platform.clock,
            )
            export = exports.export_file(s, file, cipher=platform.cipher, clock=platform.clock)[0]
            ids[side] = {
                "file": file.id,
                "alert": alert.id,
                "navette": navette.id,
                "line": line.id,
                "message": message.id,
                "export": export.id,
                "quiet_alerts": quiet[0].id,
            }
            ids[f"{side}_quiet"] = {"test": quiet[0].id, "accidental": quiet[1].id}
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


def _without_csrf_token(html: str) -> str:
    """The page with its CSRF token masked: the token is signed with the current second,
    so two pages served across a second boundary differ there and only there."""
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', html)


def test_other_courts_file_looks_exactly_like_a_missing_one(
    login: Login, objects: dict[str, dict[str, int]]
) -> None:
    client = login("parquet.paris")
    other = client.get(f"/dossiers/{objects['other']['file']}")
    missing = client.get("/dossiers/999999")
    assert other.status_code == missing.status_code == 404
    assert _without_csrf_token(other.get_data(as_text=True)) == _without_csrf_token(
        missing.get_data(as_text=True)
    )
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


def _auditing_functions(module: ModuleType) -> set[str]:
    """Names of a module's functions that call ``audit_read``, directly or through another."""
    calls: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.FunctionDef):
            calls[node.name] = {
                call.func.id
                for call in ast.walk(node)
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            }
    auditing = {"audit_read"}
    while True:
        more = {name for name, called in calls.items() if called & auditing} - auditing
        if not more:
            return auditing - {"audit_read"}
        auditing |= more


def test_every_view_that_shows_personal_data_wears_the_read_decorator(app: Flask) -> None:
    """A view that names its reads (audit_read) records them only as @reads_personal_data (R-53)."""
    auditing: list[str] = []
    undecorated: list[str] = []
    for endpoint, view in app.view_functions.items():
        original = inspect.unwrap(view)
        module = sys.modules[original.__module__]
        if original.__name__ in _auditing_functions(module):
            auditing.append(endpoint)
            if not getattr(view, "_tgd_reads", False):
                undecorated.append(endpoint)
    assert "console_api.alert" in auditing and "cases.show" in auditing  # the walk finds them
    assert undecorated == []


def _alert_links(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/alertes/(\d+)"', html)}


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("operateur", {"police", "test", "accidental"}),
        ("superviseur", {"police", "test", "accidental"}),
        ("parquet.paris", {"police"}),  # alerts with police action only
        ("association", set()),  # no access to alerts at all
    ],
)
def test_file_page_lists_only_the_alerts_the_role_may_see(
    role: str, sees: set[str], login: Login, objects: dict[str, dict[str, int]]
) -> None:
    html = login(role).get(f"/dossiers/{objects['own']['file']}").get_data(as_text=True)
    ids = {"police": objects["own"]["alert"], **objects["own_quiet"]}
    listed = _alert_links(html)
    assert {name for name, alert_id in ids.items() if alert_id in listed} == sees
    if not sees:
        assert "Alertes et essais récents" not in html


def test_file_page_of_the_parquet_shows_positions_of_its_alerts_only(
    login: Login, objects: dict[str, dict[str, int]], platform: Platform
) -> None:
    from tgd.db.models import Position
    from tgd.services import positions

    with write_transaction(platform.sessions) as s:
        line = s.get(Line, objects["own"]["line"])
        assert line is not None
        file = s.get(BeneficiaryFile, objects["own"]["file"])
        assert file is not None
        from tgd.domain.alerts import PositionSource
        from tgd.domain.positions import Fix

        made = []
        for alert_id, lat in ((objects["own"]["alert"], 48.11111), (None, 48.22222)):
            fix = Fix(lat, 2.3, 10, platform.clock.now(), PositionSource.GNSS)
            p = positions.store(
                s,
                line,
                fix,
                channel="sms",
                message_id=None,
                cipher=platform.cipher,
                clock=platform.clock,
            )
            p.alert_id, p.file_id = alert_id, file.id
            made.append(p)
        s.flush()
        assert s.get(Position, made[0].id) is not None
    parquet = (
        login("parquet.paris").get(f"/dossiers/{objects['own']['file']}").get_data(as_text=True)
    )
    operator = login("operateur").get(f"/dossiers/{objects['own']['file']}").get_data(as_text=True)
    assert "48.11111" in parquet and "48.22222" not in parquet
    assert "48.11111" in operator and "48.22222" in operator


def test_parquet_portal_lists_only_alerts_with_police_action(
    login: Login, objects: dict[str, dict[str, int]]
) -> None:
    listed = _alert_links(login("parquet.paris").get("/parquet/").get_data(as_text=True))
    assert objects["own"]["alert"] in listed
    assert not listed & set(objects["own_quiet"].values())
    assert objects["other"]["alert"] not in listed


def _main_text(html: str) -> str:
    found = re.search(r"<main.*?</main>", html, re.S)
    text = re.sub(r"<[^>]+>", " ", found.group(0) if found else html)
    return re.sub(r"\s+", " ", text).strip()


def _id_routes(app: Flask) -> list[tuple[str, str, str]]:
    """Every route that takes one database id: (rule, parameter, method)."""
    routes = []
    for rule in app.url_map.iter_rules():
        ints = [name for name, c in rule._converters.items() if c.regex == r"\d+"]
        if len(ints) != 1 or rule.endpoint.startswith("gateway"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.rule, ints[0], method))
    return routes


OTHER_OBJECT = {
    "file_id": "file",
    "alert_id": "alert",
    "navette_id": "navette",
    "line_id": "line",
    "message_id": "message",
    "export_id": "export",
}


def _url(rule: str, param: str, value: int | str) -> str:
    url = rule.replace(f"<int:{param}>", str(value))
    return re.sub(r"<[^>]+>", "attribution", url)  # other parts (slugs): a valid value


@pytest.mark.parametrize("role", SCOPED_ROLES)
def test_another_courts_object_answers_like_a_missing_one_on_every_route(
    role: str, app: Flask, login: Login, objects: dict[str, dict[str, int]]
) -> None:
    """No existence oracle: one answer for another court's id and a missing id (R-51)."""
    client = login(role)
    side = "own" if role == "parquet.reunion" else "other"  # the court this role cannot see
    checked = 0
    for rule, param, method in _id_routes(app):
        kind = OTHER_OBJECT.get(param)
        if kind is None:
            continue
        other_url = _url(rule, param, objects[side][kind])
        missing_url = _url(rule, param, 987654)
        call = client.get if method == "GET" else client.post
        other, missing = call(other_url), call(missing_url)
        assert other.status_code == missing.status_code, (method, rule)
        assert _main_text(other.get_data(as_text=True)) == _main_text(
            missing.get_data(as_text=True)
        ), (method, rule)
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("role", ["operateur", "parquet.paris", "admin"])
def test_ids_beyond_the_databases_range_answer_404(
    role: str, app: Flask, login: Login, objects: dict[str, dict[str, int]]
) -> None:
    client = login(role)
    for rule, param, method in _id_routes(app):
        for huge in ("99999999999999999999", str(2**31), "9223372036854775808"):
            call = client.get if method == "GET" else client.post
            response = call(_url(rule, param, huge))
            assert response.status_code == 404, (method, rule, huge, response.status_code)
