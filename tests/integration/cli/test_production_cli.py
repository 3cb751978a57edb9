"""The production side of the ``tgd`` command (issue 14): refusals that name the fix, backups.

``tgd run`` and ``tgd scheduler`` refuse a database whose schema is not the code's,
naming ``tgd db upgrade``; ``tgd keys init`` creates the configured master key file
in production (where every other command refuses to start without it); ``tgd backup``
and ``tgd restore`` round trip through the command line.
"""

from __future__ import annotations

import json
import os
import stat
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
        "TGD_TWILIO_AUTH_TOKEN": "cli0123456789abcdef0123456789abc",
    }


def tgd(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("command", [["run", "--port", "5999"], ["scheduler"]])
def test_servers_refuse_an_unmigrated_database_naming_the_fix(
    env: dict[str, str], command: list[str]
) -> None:
    result = tgd(env, *command)
    assert result.exit_code == 2
    assert "n'est pas migrée" in result.output and "tgd db upgrade" in result.output


def test_keys_init_creates_the_configured_key_file_in_production(
    env: dict[str, str], tmp_path: Path
) -> None:
    key_file = tmp_path / "secrets" / "master.key"
    production = {
        **env,
        "TGD_MODE": "production",
        "TGD_MASTER_KEY_FILE": str(key_file),
        "TGD_TWILIO_BACKEND": "twilio",
    }
    refused = tgd(production, "db", "current")
    assert refused.exit_code == 2 and "tgd keys init" in refused.output
    created = tgd(production, "keys", "init")
    assert created.exit_code == 0, created.output
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in created.output
    again = tgd(production, "keys", "init")
    assert again.exit_code != 0 and "existe déjà" in again.output  # never overwritten


def test_backup_and_restore_round_trip_on_the_command_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert tgd(env, "db", "upgrade").exit_code == 0
    assert tgd(env, "demo", "load").exit_code == 0
    out = tmp_path / "backups" / "nightly"
    result = tgd(env, "backup", str(out))
    assert result.exit_code == 0, result.output
    assert "la clé maîtresse n'y est pas" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "tgd-backup" and manifest["revision"]
    assert stat.S_IMODE(os.stat(out / manifest["file"]).st_mode) == 0o600
    assert tgd(env, "backup", str(out)).exit_code == 1  # never over an existing backup
    restored = tgd(env, "restore", str(out))
    assert restored.exit_code == 0, restored.output
    assert "restaurée à la révision" in restored.output
    damaged = tmp_path / "not-a-backup"
    damaged.mkdir()
    refused = tgd(env, "restore", str(damaged))
    assert refused.exit_code == 1 and "n'est pas une sauvegarde TGD" in refused.output
