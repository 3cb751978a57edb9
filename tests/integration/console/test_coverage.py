"""Coverage ("zones blanches", Annexe 2 I.3): checked imports with history, figures, warnings
on the console and the file, the console's map layer and the committee report's table."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from shapely.geometry import LineString, Polygon, box, mapping
from sqlalchemy import func, select

from tests import builders
from tests.integration.gateway.conftest import TwilioClient
from tests.integration.web.conftest import csrf_of
from tgd.adapters.clock import FrozenClock
from tgd.container import Platform
from tgd.db.models.alerts import Alert
from tgd.db.models.audit import AuditEntry
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.coverage import CoverageLayer, CoverageMeasure
from tgd.db.models.lines import Line, LineAssignment
from tgd.db.writes import write_transaction
from tgd.domain.coverage import LayerKind
from tgd.services import coverage, reports

Login = Callable[[str], FlaskClient]
LINE_1, LINE_2 = "+33612340001", "+33612340002"
# Paris covered, but for a white zone around line 2's residence (48.8640, 2.3990).
WHITE_ZONE = [(2.395, 48.862), (2.403, 48.862), (2.403, 48.866), (2.395, 48.866)]
PARIS = Polygon([(2.2, 48.8), (2.45, 48.8), (2.45, 48.9), (2.2, 48.9)], holes=[WHITE_ZONE])


def collection(*geometries: Any) -> str:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "geometry": mapping(g)} for g in geometries],
        }
    )


def apply(platform: Platform, text: str, kind: str, territory: str = "75") -> CoverageLayer:
    with write_transaction(platform.sessions) as session:
        plan = coverage.plan_import(session, text, territory_code=territory, kind=kind)
        assert plan.is_valid, plan.all_errors
        return coverage.apply_import(
            session, plan, source_name=f"{kind}.geojson", user_id=None, clock=platform.clock
        )


@pytest.fixture
def covered(demo: None, platform: Platform) -> None:
    """Paris' coverage with its white zone, and synthetic urban, road and rail layers."""
    apply(platform, collection(PARIS), "couverture")
    apply(platform, collection(box(2.39, 48.86, 2.41, 48.87)), "urbain")
    apply(platform, collection(LineString([(2.3, 48.864), (2.5, 48.864)])), "routes")
    apply(platform, collection(LineString([(2.25, 48.85), (2.35, 48.85)])), "rail")


@pytest.mark.usefixtures("covered")
def test_import_measures_the_three_shares_against_the_coverage(platform: Platform) -> None:
    with platform.sessions() as session:
        (paris,) = [t for t in coverage.summary(session) if t.territory.code == "75"]
        shares = {f.kind: f.share_pct for f in paris.figures}
    hole = box(2.395, 48.862, 2.403, 48.866)
    urban = box(2.39, 48.86, 2.41, 48.87)
    assert shares[LayerKind.URBAIN] == pytest.approx(100 * (1 - hole.area / urban.area), abs=0.1)
    # Road from 2.30 to 2.50: 2.45-2.50 is beyond the map, 2.395-2.403 is the white zone.
    assert shares[LayerKind.ROUTES] == pytest.approx(100 * (0.15 - 0.008) / 0.2, abs=0.1)
    assert shares[LayerKind.RAIL] == pytest.approx(100.0)


@pytest.mark.usefixtures("covered")
def test_new_coverage_keeps_the_old_one_and_is_measured_again(platform: Platform) -> None:
    assert isinstance(platform.clock, FrozenClock)
    platform.clock.advance(days=30)
    apply(platform, collection(box(2.2, 48.8, 2.45, 48.9)), "couverture")  # white zone fixed
    with platform.sessions() as session:
        layers = session.scalars(
            select(CoverageLayer).where(CoverageLayer.kind == LayerKind.COUVERTURE)
        ).all()
        assert len(layers) == 2 and sum(1 for layer in layers if layer.valid_until is None) == 1
        assert session.scalar(select(func.count()).select_from(CoverageMeasure)) == 6
        (paris,) = [t for t in coverage.summary(session) if t.territory.code == "75"]
        assert {f.kind: f.share_pct for f in paris.figures}[LayerKind.URBAIN] == pytest.approx(
            100.0
        )
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "coverage.import")
        ).all()
        assert len(audit) == 5 and audit[-1].details["territory"] == "75"


@pytest.mark.usefixtures("covered")
def test_console_warns_when_the_residence_is_in_a_white_zone(
    carrier: TwilioClient, login: Login, platform: Platform
) -> None:
    carrier.call("CAcov2", from_=LINE_2)
    carrier.call("CAcov1", from_=LINE_1)
    operator = login("operateur")
    with platform.sessions() as session:
        ids = dict(session.execute(select(Alert.call_sid, Alert.id)).all())
    flagged = operator.get(f"/api/console/alerts/{ids['CAcov2']}").get_json()
    assert flagged["coverage"]["residence"] == "hors_couverture"
    assert any("Domicile hors de la couverture" in w for w in flagged["warnings"])
    fine = operator.get(f"/api/console/alerts/{ids['CAcov1']}").get_json()
    assert fine["coverage"] == {
        "residence": "couvert",
        "workplace": "couvert",
        "position": "inconnu",  # no position received
    }
    assert fine["warnings"] == []


@pytest.mark.usefixtures("covered")
def test_file_page_flags_a_residence_outside_coverage(login: Login, platform: Platform) -> None:
    with platform.sessions() as session:
        file_id = session.scalar(
            select(BeneficiaryFile.id)
            .join(LineAssignment, LineAssignment.id == BeneficiaryFile.assignment_id)
            .join(Line, Line.id == LineAssignment.line_id)
            .where(Line.msisdn == LINE_2)
        )
    page = login("operateur").get(f"/dossiers/{file_id}").get_data(as_text=True)
    assert "hors de la couverture du réseau" in page


@pytest.mark.usefixtures("covered")
def test_console_map_layer_is_the_coverage_in_force(login: Login) -> None:
    layer = login("operateur").get("/api/console/coverage").get_json()
    assert layer["type"] == "FeatureCollection" and len(layer["features"]) == 1
    assert layer["features"][0]["properties"]["territory"] == "75"
    assert layer["features"][0]["geometry"]["type"] == "Polygon"


def _upload(client: FlaskClient, text: str, *, kind: str, territory: str = "75") -> Any:
    token = csrf_of(client.get("/admin/couverture/").get_data(as_text=True))
    return client.post(
        "/admin/couverture/import",
        data={
            "csrf_token": token,
            "territory": territory,
            "kind": kind,
            "geojson": (io.BytesIO(text.encode()), "couverture.geojson"),
        },
    )


def test_administrator_imports_a_map_and_sees_the_figures(login: Login, platform: Platform) -> None:
    admin = login("admin")
    assert _upload(admin, collection(PARIS), kind="couverture").status_code == 302
    assert (
        _upload(admin, collection(box(2.39, 48.86, 2.41, 48.87)), kind="urbain").status_code == 302
    )
    page = admin.get("/admin/couverture/").get_data(as_text=True)
    assert "couverture.geojson" in page and " %" in page


def test_invalid_layer_is_refused_with_reasons_and_nothing_is_stored(
    login: Login, platform: Platform
) -> None:
    admin = login("admin")
    response = _upload(admin, collection(box(55.4, -21.0, 55.5, -20.9)), kind="couverture")
    assert response.status_code == 400
    assert "limites du territoire" in response.get_data(as_text=True)
    response = _upload(admin, collection(LineString([(2.3, 48.8), (2.4, 48.8)])), kind="urbain")
    assert response.status_code == 400
    with platform.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CoverageLayer)) == 0


def test_operator_may_not_import_coverage(login: Login) -> None:
    assert login("operateur").get("/admin/couverture/").status_code == 403


@pytest.mark.usefixtures("covered")
def test_committee_report_carries_the_coverage_figures(platform: Platform) -> None:
    with platform.sessions() as session:
        scope, period, provisional = reports.prepare(
            session, juridiction="75056", period="2026-T4", user=None, clock=platform.clock
        )
        report, _ = reports.build_report(
            session, scope, period, provisional=provisional, clock=platform.clock
        )
    assert report.coverage is not None and report.coverage in report.all_tables()
    (row,) = report.coverage.rows
    assert row[0] == "Paris" and row[4] == pytest.approx(100.0)
    assert isinstance(row[2], float) and 0 < row[2] < 100


def test_cli_imports_and_shows_coverage(
    platform: Platform, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tgd.cli import main

    with write_transaction(platform.sessions) as session:
        for code in ("75", "974"):
            builders.territory(session, code=code, clock=platform.clock)
    settings = platform.settings
    monkeypatch.setenv("TGD_MODE", "test")
    monkeypatch.setenv("TGD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("TGD_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TGD_MASTER_KEY_FILE", str(tmp_path / "cli.key"))
    path = tmp_path / "paris.geojson"
    path.write_text(collection(PARIS), encoding="utf-8")
    runner = CliRunner()
    done = runner.invoke(
        main, ["coverage", "import", "--territory", "75", "--kind", "couverture", str(path)]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["features"] == 1
    bad = tmp_path / "bad.geojson"
    bad.write_text(collection(box(48.8, 2.2, 48.9, 2.4)), encoding="utf-8")
    refused = runner.invoke(
        main, ["coverage", "import", "--territory", "75", "--kind", "urbain", str(bad)]
    )
    assert refused.exit_code == 1
    shown = runner.invoke(main, ["coverage", "show", "--json"])
    rows = {r["territory"]: r for r in json.loads(shown.output)}
    assert rows["75"]["coverage_since"] is not None and rows["974"]["coverage_since"] is None


def test_demo_shows_a_white_zone_figures_and_a_restricted_line(
    demo: None, platform: Platform
) -> None:
    from tgd.services import demo_lineops, restrictions

    with write_transaction(platform.sessions) as session:
        demo_lineops.load(session, cipher=platform.cipher, clock=platform.clock)
    with platform.sessions() as session:
        (paris,) = [t for t in coverage.summary(session) if t.territory.code == "75"]
        assert all(f.share_pct is not None and 0 < f.share_pct <= 100 for f in paris.figures)
        cache = coverage.CoverageCache()
        assert coverage.statuses(session, {"home": (48.8640, 2.3990)}, cache=cache) == {
            "home": coverage.CoverageStatus.OUTSIDE
        }
        line = session.scalar(select(Line).where(Line.msisdn == LINE_2))
        assert line is not None and restrictions.current_restriction(session, line) is not None
