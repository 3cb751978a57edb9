"""The ``tgd`` command through its public interface (DESIGN §10): exit codes and messages."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
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
        "TGD_SECURITY_PASSWORD_HASHING": "fast",
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


def test_downgrade_by_relative_steps(loaded: dict[str, str]) -> None:
    head = tgd(loaded, "db", "current").output.strip()
    result = tgd(loaded, "db", "downgrade", "-1")  # a revision, not an unknown option
    assert result.exit_code == 0, result.output
    assert tgd(loaded, "db", "current").output.strip() not in (head, "base")
    assert tgd(loaded, "db", "upgrade").exit_code == 0
    assert tgd(loaded, "db", "current").output.strip() == head


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
    assert "Erreur de configuration : le réglage « twilio.auth_token » manque" in result.output
    assert "la production l'exige" in result.output


def test_unmigrated_database_gets_a_clear_message(env: dict[str, str]) -> None:
    result = tgd(env, "lines", "list")
    assert result.exit_code == 1
    assert "tgd db upgrade" in result.output


def test_demo_load_adds_last_quarter_and_a_closed_file(loaded: dict[str, str]) -> None:
    rows = json.loads(tgd(loaded, "lines", "list", "--json").output)
    assert any(r["reference"] == "M 75 75056 07 2" and r["status"] == "en_attente" for r in rows)
    assert len(json.loads(tgd(loaded, "alerts", "list", "--json").output)) >= 30


# Bad input for every kind of command: French answer, exit 1 (refused) or 2 (usage), no traceback.
BAD_INPUT = [
    (["simulate", "alert", "--line", "M 99 99999 99 9"], 1, "le département « 99 » est inconnu"),
    (["simulate", "alert", "--line", "M 20 20004 01 1"], 1, "département 20 n'existe plus"),
    (["simulate", "alert", "--line", "M 75 75056 42 1"], 1, "aucune ligne de référence"),
    (["simulate", "test-call"], 2, "--line"),
    (
        ["simulate", "position", "--line", "M 75 75056 01 1", "--lat", "x", "--lon", "2"],
        2,
        "valeur invalide pour --lat : « x » n'est pas un nombre",
    ),
    (
        ["simulate", "alert", "--from", "+33612340001", "--url", "http://127.0.0.1:9"],
        1,
        "la plateforme ne répond pas à http://127.0.0.1:9",
    ),
    (["lines", "activate", "M 20 20004 01 1"], 1, "département 20 n'existe plus"),
    (["lines", "activate", "M 75 75056 42 1"], 1, "Aucune ligne ne porte la référence"),
    (["lines", "list", "--bogus"], 2, "option inconnue : --bogus"),
    (["lines", "frobnicate"], 2, "commande inconnue : frobnicate"),
    (["lines", "add", "--juridiction", "75056", "--msisdn", "+33600000000"], 2, "--order"),
    (
        ["lines", "add", "--juridiction", "75056", "--order", "200", "--msisdn", "1"],
        2,
        "200 n'est pas dans l'intervalle",
    ),
    (
        ["lines", "swap", "M 75 75056 01 1", "--imei", "1", "--reported-at", "hier"],
        2,
        "valeur invalide pour --reported-at : date et heure ISO 8601 attendues",
    ),
    (["alerts", "list", "--limit", "0"], 2, "valeur invalide pour --limit"),
    (
        ["user", "create", "--username", "x", "--role", "king", "--password", "a" * 16],
        2,
        "« king » n'est pas l'une des valeurs",
    ),
    (["user", "totp", "personne"], 1, "n'est pas un compte de démonstration"),
    (["db", "upgrade", "zzz"], 2, "révision « zzz » inconnue"),
    (["jobs", "run", "nope"], 1, "tâche inconnue"),
    (["keys", "init"], 1, "existe déjà"),
    (["report", "--juridiction", "75056", "--period", "2026-Q9", "--format", "pdf"], 2, ""),
    (["nope"], 2, "commande inconnue : nope"),
]


def test_every_command_answers_bad_input_in_french_without_a_traceback(
    loaded: dict[str, str],
) -> None:
    wrong = []
    for args, code, words in BAD_INPUT:
        result = CliRunner().invoke(main, args, env=loaded, catch_exceptions=False)
        out = result.output
        if not (
            result.exit_code == code
            and words in out
            and "Erreur" in out
            and not any(english in out for english in ("Traceback", "Error:", "Usage:"))
        ):
            wrong.append((args, result.exit_code, out[-300:]))
    assert wrong == []


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("TGD_DATABASE_URL", "postgres://u:secret@127.0.0.1:1/x", "schéma « postgres »"),
        ("TGD_DATABASE_URL", "mysql://u:secret@127.0.0.1/x", "schéma « mysql »"),
        ("TGD_DATABASE_URL", "nonsense", "n'est pas une adresse de base de données"),
        (
            "TGD_ALERTS_ESCALATE_AFTER_SECOND",
            "5",
            "vouliez-vous dire TGD_ALERTS_ESCALATE_AFTER_SECONDS ?",
        ),
    ],
)
def test_a_bad_configuration_exits_2_in_french(
    env: dict[str, str], variable: str, value: str, words: str
) -> None:
    result = CliRunner().invoke(
        main, ["lines", "list"], env={**env, variable: value}, catch_exceptions=False
    )
    assert result.exit_code == 2
    assert result.output.startswith("Erreur de configuration : ") and words in result.output
    assert "secret" not in result.output and "Traceback" not in result.output


def test_keys_init_creates_the_configured_key_file_in_production(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "master.key"
    environ = {
        "TGD_MODE": "production",
        "TGD_DATA_DIR": str(tmp_path / "data"),
        "TGD_MASTER_KEY_FILE": str(key_file),
        "TGD_DATABASE_URL": f"sqlite:///{tmp_path / 'tgd.db'}",
    }
    result = CliRunner().invoke(main, ["keys", "init"], env=environ, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = CliRunner().invoke(main, ["keys", "init"], env=environ, catch_exceptions=False)
    assert again.exit_code == 1 and "existe déjà" in again.output


def test_a_fresh_data_directory_holds_only_private_files(tmp_path: Path) -> None:
    """§8: the database, its WAL and every other file of the data directory are 0600."""
    data = tmp_path / "fresh" / "var"
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TGD_")},
        "TGD_DATA_DIR": str(data),
        "TGD_SECRET_KEY": "cli-secret-key-0123456789abcdef0123456789",
    }
    for args in (["db", "upgrade"], ["demo", "load"], ["audit", "verify"]):
        done = subprocess.run(
            [sys.executable, "-c", "from tgd.cli import main; main()", *args],
            env=environ,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    found = list(data.rglob("*"))
    assert {p.name for p in found} >= {"tgd.db", "master.key", "audit.anchor"}
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in found:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path.name, oct(mode))


def test_an_existing_world_readable_database_is_made_private(
    loaded: dict[str, str], settings: Settings
) -> None:
    from tgd.container import sqlite_path

    path = sqlite_path(settings.database_url)
    if path is None:
        pytest.skip("PostgreSQL: no database file")
    path.chmod(0o644)
    assert tgd(loaded, "lines", "list").exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


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
