"""``tgd report`` and ``tgd cdr import`` through the command line (DESIGN §10): bad input is
refused with a clear message, a non-zero exit code and no file written."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tgd.cli import main
from tgd.settings import Settings


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    return {
        "TGD_DATABASE_URL": settings.database_url,
        "TGD_DATA_DIR": str(tmp_path / "cli"),
        "TGD_SECRET_KEY": "cli-secret-key-0123456789abcdef0123456789",
        "TGD_SECURITY_PASSWORD_HASHING": "fast",
    }


def tgd(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def loaded(env: dict[str, str]) -> dict[str, str]:
    assert tgd(env, "db", "upgrade").exit_code == 0
    assert tgd(env, "demo", "load").exit_code == 0
    return env


@pytest.mark.parametrize("fmt", ["ods", "pdf", "odt"])
def test_last_quarter_report_of_the_demo(loaded: dict[str, str], tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"rapport.{fmt}"
    result = tgd(
        loaded,
        "report",
        "--juridiction",
        "75056",
        "--period",
        "2026-Q3",
        "--format",
        fmt,
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "définitif" in result.output and out.stat().st_size > 1000
    if fmt == "ods":
        with zipfile.ZipFile(out) as package:
            content = package.read("content.xml").decode()
        assert all(f"Tableau {n} " in content for n in range(1, 11))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--juridiction", "99999", "--period", "2026-Q3"], "Juridiction inconnue"),
        (["--departement", "99", "--period", "2026-Q3"], "Département inconnu"),
        (["--juridiction", "75056", "--period", "2027-Q1"], "n'a pas commencé"),
        (["--juridiction", "75056", "--from", "2026-09-01", "--to", "2026-08-01"], "inversée"),
        (["--juridiction", "75056", "--period", "2026-Q5"], "non reconnue"),
        (["--juridiction", "75056"], "Indiquez une période"),
        (["--period", "2026-Q3"], "une seule portée"),
        (["--juridiction", "97411", "--period", "2026-Q3", "--user", "comite"], "vos juridictions"),
        (["--national", "--period", "2026-S1", "--user", "parquet.paris"], "vos juridictions"),
        (
            ["--juridiction", "75056", "--period", "2026-Q3", "--user", "comite", "--nominative"],
            "ne permet pas",
        ),
        (["--juridiction", "75056", "--period", "2026-Q3", "--nominative"], "réservée"),
        (["--juridiction", "75056", "--period", "2026-Q3", "--user", "personne"], "Compte inconnu"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    loaded: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out" / "rapport.ods"
    out.parent.mkdir()
    result = CliRunner().invoke(main, ["report", *args, "--out", str(out)], env=loaded)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert list(out.parent.iterdir()) == []


def test_parquet_gets_the_nominative_annex(loaded: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "nominatif.ods"
    result = tgd(
        loaded,
        "report",
        "--juridiction",
        "75056",
        "--period",
        "2026-Q4",
        "--user",
        "parquet.paris",
        "--nominative",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as package:
        assert "Annexe nominative" in package.read("content.xml").decode()


def test_cdr_import_counts_and_is_idempotent(loaded: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "calls.json"
    log.write_text(
        json.dumps(
            {
                "calls": [
                    {
                        "sid": "CAcli0001",
                        "from": "+33612340001",
                        "to": "+33698760001",
                        "start_time": "Mon, 03 Aug 2026 12:00:00 +0000",
                        "duration": "12",
                    },
                    {
                        "sid": "CAcli0002",
                        "from": "+33700000000",
                        "to": "+33700000001",
                        "start_time": "Mon, 03 Aug 2026 12:00:00 +0000",
                        "duration": "12",
                    },
                ]
            }
        )
    )
    first = tgd(loaded, "cdr", "import", str(log))
    assert first.exit_code == 0, first.output
    assert "1 appel(s) importé(s)" in first.output and "1 sans ligne TGD" in first.output
    assert "1 déjà connu(s)" in tgd(loaded, "cdr", "import", str(log)).output
