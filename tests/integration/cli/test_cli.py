"""The ``tgd`` command through its public interface (DESIGN §10): exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from tgd.cli import main
from tgd.db.session import make_engine
from tgd.settings import Settings


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    return {
        "TGD_DATABASE_URL": settings.database_url,
        "TGD_DATA_DIR": str(tmp_path / "cli"),
        "TGD_SECRET_KEY": "cli-secret-key-0123456789abcdef0123456789",
    }


def tgd(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


@pytest.fixture
def loaded(env: dict[str, str]) -> dict[str, str]:
    assert tgd(env, "db", "upgrade").exit_code == 0
    result = tgd(env, "demo", "load")
    assert result.exit_code == 0, result.output
    return env


def test_demo_load_prints_one_login_per_role(loaded: dict[str, str]) -> None:
    output = tgd(loaded, "demo", "load").output
    assert "déjà chargées" in output
    for username in (
        "operateur",
        "superviseur",
        "parquet.paris",
        "association",
        "comite",
        "admin",
        "auditeur",
    ):
        assert username in output


def test_lines_list_json_has_the_public_fields(loaded: dict[str, str]) -> None:
    result = tgd(loaded, "lines", "list", "--json")
    rows = json.loads(result.output)
    assert {"reference", "msisdn", "status", "juridiction"} <= set(rows[0])
    assert {r["juridiction"] for r in rows} == {"75056", "97411", "97502"}
    assert any(r["reference"] == "M 975 97502 01 1" and r["status"] == "affecte" for r in rows)


def test_alerts_list_json_has_the_public_fields(loaded: dict[str, str]) -> None:
    rows = json.loads(tgd(loaded, "alerts", "list", "--json").output)
    assert {"id", "call_sid", "line_reference", "state", "nature", "created_at"} <= set(rows[0])
    assert all(r["created_at"].endswith("Z") for r in rows)


def test_downgrade_to_base_then_upgrade(loaded: dict[str, str]) -> None:
    assert tgd(loaded, "db", "downgrade", "base").exit_code == 0
    assert tgd(loaded, "db", "current").output.strip() == "base"
    assert tgd(loaded, "db", "upgrade").exit_code == 0


def test_user_create_prints_the_totp_secret(loaded: dict[str, str]) -> None:
    result = tgd(
        loaded,
        "user",
        "create",
        "--username",
        "op2",
        "--role",
        "operator",
        "--password",
        "un-mot-de-passe-long",
    )
    assert result.exit_code == 0, result.output
    assert "Secret TOTP" in result.output and "otpauth://" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--username", "xy", "--role", "operator", "--password", "court"], "12 caractères"),
        (
            ["--username", "pq", "--role", "parquet", "--password", "un-mot-de-passe-long"],
            "au moins une juridiction",
        ),
        (
            [
                "--username",
                "pq",
                "--role",
                "parquet",
                "--juridiction",
                "99999",
                "--password",
                "un-mot-de-passe-long",
            ],
            "Juridiction inconnue",
        ),
        (
            ["--username", "operateur", "--role", "operator", "--password", "un-mot-de-passe-long"],
            "déjà pris",
        ),
        (
            ["--username", "Bad Name!", "--role", "operator", "--password", "un-mot-de-passe-long"],
            "n'est pas valide",
        ),
    ],
)
def test_user_create_refuses_bad_input_in_french(
    loaded: dict[str, str], args: list[str], message: str
) -> None:
    result = tgd(loaded, "user", "create", *args)
    assert result.exit_code == 1
    assert message in result.output


def test_audit_verify_passes_then_fails_after_tampering(loaded: dict[str, str]) -> None:
    assert tgd(loaded, "audit", "verify").exit_code == 0
    engine = make_engine(loaded["TGD_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET action = 'demo.rien' WHERE chain_seq = 2"))
    engine.dispose()
    result = tgd(loaded, "audit", "verify")
    assert result.exit_code == 1
    assert "ALTÉRÉ" in result.output


def test_bad_configuration_exits_2_with_the_reason(env: dict[str, str]) -> None:
    result = tgd({**env, "TGD_MODE": "production"}, "lines", "list")
    assert result.exit_code == 2
    assert "production needs it" in result.output


def test_unmigrated_database_gets_a_clear_message(env: dict[str, str]) -> None:
    result = tgd(env, "lines", "list")
    assert result.exit_code == 1
    assert "tgd db upgrade" in result.output


def test_demo_load_adds_last_quarter_and_a_closed_file(loaded: dict[str, str]) -> None:
    rows = json.loads(tgd(loaded, "lines", "list", "--json").output)
    assert any(r["reference"] == "M 75 75056 07 2" and r["status"] == "en_attente" for r in rows)
    assert len(json.loads(tgd(loaded, "alerts", "list", "--json").output)) >= 30


def test_alerts_show_json_has_the_listing_fields_and_the_legs(loaded: dict[str, str]) -> None:
    from tgd.services.demo import DEMO_AUDIO_LINES

    assert tgd(loaded, "user", "audio-line", "operateur", "01 99 00 10 09").exit_code == 0
    listed = json.loads(tgd(loaded, "alerts", "list", "--json").output)
    shown = json.loads(tgd(loaded, "alerts", "show", str(listed[0]["id"]), "--json").output)
    assert {"id", "call_sid", "line_reference", "state", "nature", "created_at"} <= set(shown)
    assert isinstance(shown["legs"], list)
    assert all({"role", "status"} <= set(leg) for leg in shown["legs"])
    missing = tgd(loaded, "alerts", "show", "999999", "--json")
    assert missing.exit_code == 1 and "introuvable" in missing.output
    refused = tgd(loaded, "user", "audio-line", "operateur", "n'importe quoi")
    assert refused.exit_code == 1 and "Ligne audio invalide" in refused.output
    assert DEMO_AUDIO_LINES["operateur"].startswith("+33")
