"""The ten tables and the service levels on a quarter of history (DESIGN §7, R-29, R-30)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from tgd.container import Platform
from tgd.services import reports
from tgd.services.reports.model import Report


def _q3(session: Session, platform: Platform, **kwargs: Any) -> Report:
    scope, period, provisional = reports.prepare(
        session, juridiction="75056", period="2026-Q3", user=None, clock=platform.clock
    )
    assert not provisional
    report, _ = reports.build_report(
        session, scope, period, provisional=provisional, clock=platform.clock, **kwargs
    )
    return report


def _table(report: Report, key: str) -> list[list[Any]]:
    return next(t for t in report.all_tables() if t.key == key).rows


def test_report_has_the_ten_tables_in_order(
    history: object, platform: Platform, session: Session
) -> None:
    report = _q3(session, platform)
    assert [t.number for t in report.tables] == list(range(1, 11))


def test_headline_figures_of_the_quarter(
    history: object, platform: Platform, session: Session
) -> None:
    f = _q3(session, platform).figures
    assert (f["tests"], f["alerts"], f["calls"]) == (19, 4, 23)  # the canary does not count
    assert (f["police_called"], f["non_compliant"], f["late_tests"]) == (1, 1, 1)
    assert (f["incidents"], f["swaps"], f["closed_files"]) == (1, 1, 1)
    assert f["people_followed"] == 4  # 01, 02, 04 attributed; 03 in commissioning


def test_late_tests_and_alerts_are_flagged_per_terminal(
    history: object, platform: Platform, session: Session
) -> None:
    rows = _table(_q3(session, platform), "historique")
    late = [r for r in rows if r[4] == "ESSAI EN RETARD"]
    assert [(r[0], r[2]) for r in late] == [("M 75 75056 01 1", "essai attendu le 01/08/2026")]
    flagged = {r[0] for r in rows if r[4] == "ALERTE"}
    assert flagged == {"M 75 75056 01 1", "M 75 75056 02 1", "M 75 75056 04 1"}


def test_times_are_in_the_territory_zone(
    history: object, platform: Platform, session: Session
) -> None:
    rows = _table(_q3(session, platform), "appels_recus")
    police = [r for r in rows if r[7] == "oui"]
    assert police[0][1] == "05/08/2026 22:14"  # Paris wall clock, stored in UTC


def test_service_levels_and_breaches(history: object, platform: Platform, session: Session) -> None:
    report = _q3(session, platform)
    levels = {r[0]: r for r in report.service_levels.rows}
    pickup = levels["Sonnerie → prise en charge"]
    assert pickup[1] == 4 and pickup[4] == 25 and pickup[6] == 1
    assert levels["Prise en charge → appel des forces de l'ordre"][2] == 90
    assert levels["Navette reçue → fiche créée"][2] == 25 * 60
    assert levels["Panne signalée → terminal échangé (heures ouvrées)"][2] == 29 * 3600
    kinds = sorted(r[0] for r in report.breaches.rows)
    assert kinds == [
        "Navette reçue → fiche créée",
        "Panne signalée → terminal échangé (heures ouvrées)",
        "Sonnerie → prise en charge",
    ]


def test_numbers_called_hide_private_numbers_and_mask_lines(
    history: object, platform: Platform, session: Session
) -> None:
    report = _q3(session, platform)
    called = [r for r in _table(report, "numeros_appeles") if r[5] == "relevé de l'opérateur"]
    assert sorted((r[2], r[3], r[4]) for r in called) == [
        ("17", "numéro d'urgence", 45),
        ("numéro privé (masqué)", "numéro privé (masqué)", 120),
    ]
    numbers = [r[3] for r in _table(report, "terminaux")]
    assert "••••••••••01" in numbers and not any(str(n).startswith("+33") for n in numbers)


def test_follow_up_lengths_and_usage(history: object, platform: Platform, session: Session) -> None:
    report = _q3(session, platform)
    followed = {r[0]: r for r in _table(report, "suivis")}
    assert followed["M 75 75056 04 1"][3] == "15/09/2026"
    assert followed["M 75 75056 04 1"][4] == "clôturé"
    usage = {r[0]: r for r in _table(report, "utilisation")}
    assert usage["M 75 75056 02 1"][5] == 7 and usage["M 75 75056 01 1"][9] == 1
    assert usage["M 75 75056 01 1"][10] == 1  # one test chase


def test_nature_and_orientation_counts(
    history: object, platform: Platform, session: Session
) -> None:
    rows = {r[0]: r for r in _table(_q3(session, platform), "natures")}
    assert rows["Total"][-1] == 23
    assert rows["danger réel"][-1] == 1 and rows["utilisation non conforme au dispositif"][-1] == 1
    non_compliant = _table(_q3(session, platform), "non_conformes")
    assert non_compliant[0][2] == "appel sans rapport avec le dispositif"


def test_other_juridictions_are_out_of_scope(
    history: object, platform: Platform, session: Session
) -> None:
    scope, period, prov = reports.prepare(
        session, juridiction="97411", period="2026-Q3", user=None, clock=platform.clock
    )
    report, _ = reports.build_report(session, scope, period, provisional=prov, clock=platform.clock)
    assert report.figures["calls"] == 0
    assert {r[0] for r in _table(report, "terminaux")} == {"M 974 97411 01 1", "M 974 97411 02 1"}


@pytest.mark.parametrize("national", [True, False])
def test_national_and_departement_roll_up(
    history: object, platform: Platform, session: Session, national: bool
) -> None:
    scope, period, prov = reports.prepare(
        session,
        national=national,
        departement=None if national else "75",
        period="2026-S2",
        user=None,
        clock=platform.clock,
    )
    assert prov  # the half-year is still running on 23 November
    report, _ = reports.build_report(session, scope, period, provisional=prov, clock=platform.clock)
    assert report.figures["calls"] == 23
