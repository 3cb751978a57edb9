"""Tests of the département list and the shipped commune list (DESIGN.md §3)."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from tgd.domain.geography import DEPARTEMENTS, Commune, departement_name, find_commune

METRO = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]
OVERSEAS = ["971", "972", "973", "974", "975", "976", "977", "978", "986", "987", "988"]


def test_departements_are_exactly_the_design_list() -> None:
    assert set(DEPARTEMENTS) == set(METRO) | set(OVERSEAS)
    assert len(DEPARTEMENTS) == 107


@pytest.mark.parametrize("code", ["20", "00", "96", "99", "970", "979", "984", "989", "2C"])
def test_codes_outside_the_design_list_are_not_departements(code: str) -> None:
    assert code not in DEPARTEMENTS
    assert departement_name(code) is None


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("01", "Ain"),
        ("2A", "Corse-du-Sud"),
        ("2B", "Haute-Corse"),
        ("75", "Paris"),
        ("95", "Val-d'Oise"),
        ("974", "La Réunion"),
        ("975", "Saint-Pierre-et-Miquelon"),
        ("976", "Mayotte"),
        ("977", "Saint-Barthélemy"),
        ("978", "Saint-Martin"),
        ("986", "Wallis-et-Futuna"),
        ("987", "Polynésie française"),
        ("988", "Nouvelle-Calédonie"),
    ],
)
def test_departement_names_are_french(code: str, name: str) -> None:
    assert DEPARTEMENTS[code] == name
    assert departement_name(code.lower()) == name


@pytest.mark.parametrize(
    ("code", "name", "departement"),
    [
        ("01001", "L'Abergement-Clémenciat", "01"),
        ("2A004", "Ajaccio", "2A"),
        ("2B033", "Bastia", "2B"),
        ("75056", "Paris", "75"),
        ("69123", "Lyon", "69"),
        ("13055", "Marseille", "13"),
        ("97120", "Pointe-à-Pitre", "971"),
        ("97209", "Fort-de-France", "972"),
        ("97302", "Cayenne", "973"),
        ("97411", "Saint-Denis", "974"),
        ("97502", "Saint-Pierre", "975"),
        ("97611", "Mamoudzou", "976"),
        ("97701", "Saint-Barthélemy", "977"),
        ("97801", "Saint-Martin", "978"),
        ("98613", "Uvea", "986"),
        ("98735", "Papeete", "987"),
        ("98818", "Nouméa", "988"),
    ],
)
def test_find_commune_returns_current_communes(code: str, name: str, departement: str) -> None:
    assert find_commune(code) == Commune(code, name, departement)


def test_find_commune_ignores_case_and_surrounding_spaces() -> None:
    assert find_commune(" 2a004 ") == Commune("2A004", "Ajaccio", "2A")


@pytest.mark.parametrize(
    "code",
    [
        "75101",  # Paris 1er arrondissement: an arrondissement municipal, not a commune
        "13201",  # Marseille 1er arrondissement
        "20004",  # Ajaccio's code before the 1976 split of Corsica
        "98411",  # TAAF: not a reference département
        "98901",  # Clipperton: not a reference département
        "75999",
        "",
        "garbage",
    ],
)
def test_find_commune_returns_none_for_non_communes(code: str) -> None:
    assert find_commune(code) is None


def _shipped_rows() -> list[dict[str, str]]:
    path = resources.files("tgd").joinpath("data/communes.csv")
    with path.open("r", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


def test_shipped_list_is_sorted_unique_and_consistent() -> None:
    rows = _shipped_rows()
    codes = [row["code"] for row in rows]
    assert codes == sorted(codes)
    assert len(codes) == len(set(codes))
    assert len(rows) > 34_000
    for row in rows:
        assert row["departement"] in DEPARTEMENTS
        assert row["code"].startswith(row["departement"])
        assert len(row["code"]) == 5
        assert row["nom"]


def test_every_departement_has_communes() -> None:
    assert {row["departement"] for row in _shipped_rows()} == set(DEPARTEMENTS)
