"""The README says what is true: every command it shows exists, runs, and does what it says.

Each ``tgd`` command of the README (its table and its code blocks) is run with
``--help`` — the command exists and takes the options the README gives — and
those that are safe to run on a demo database are run for real. Each ``make``
target it names exists (``make -n``). What the README says of the demo data
and of the alerts' order is checked against the real output.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tgd.cli import main
from tgd.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _table_commands() -> list[str]:
    """The commands of the README's ``tgd`` table, alternatives (a / b, x|y) spelled out."""
    commands = []
    for row in README.splitlines():
        if not row.startswith("| `tgd"):
            continue
        cell = row.split("|")[1] if "\\|" not in row else row[1:].split(" | ")[0]
        for code in re.findall(r"`([^`]+)`", cell.replace("\\|", "¦")):
            if not code.startswith("tgd "):
                continue
            group: list[str] = []
            for part in code.split(" / "):  # "tgd simulate test-call / position / hangup"
                words = part.split()
                words = words[1:] if words[0] == "tgd" else [*group, *words]
                path = []
                for word in words:
                    if word.startswith(("-", "[")) or not word.islower() or "=" in word:
                        break
                    path.append(word)
                group = path[:-1]
                options = re.findall(r"(--[a-z-]+)", part)
                for choice in (path[-1] if path else "").split("¦"):
                    commands.append(" ".join([*path[:-1], choice, *options]))
    return commands


def _block_commands(prefix: str) -> list[str]:
    """The command lines of the README's code (inline or fenced) that start with ``prefix``."""
    found = re.findall(r"`(" + re.escape(prefix) + r"[^`\n]*)`", README)
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        found += [line.split("#")[0].strip() for line in block.splitlines()]
    return sorted({c for c in found if c.startswith(prefix)})


TABLE = _table_commands()


def test_the_readme_table_lists_every_command_group_of_tgd() -> None:
    shown = {c.split()[0] for c in TABLE}
    assert set(main.commands) - {"user"} <= shown | {"user"}, set(main.commands) - shown
    assert {"cdr", "navettes", "retention", "keys", "alerts", "lines"} <= shown


@pytest.mark.parametrize("command", TABLE)
def test_every_command_of_the_readme_exists_with_its_options(command: str) -> None:
    words = command.split()
    path = [w for w in words if not w.startswith("--")]
    options = [w for w in words if w.startswith("--")]
    result = CliRunner().invoke(main, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for option in options:
        assert option in result.output, (command, option)


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    return {
        "TGD_DATABASE_URL": settings.database_url,
        "TGD_DATA_DIR": str(tmp_path / "readme"),
        "TGD_SECRET_KEY": "readme-secret-key-0123456789abcdef0123456789",
        "TGD_SECURITY_PASSWORD_HASHING": "fast",
    }


def _tgd(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_the_readme_commands_run_on_the_demo(env: dict[str, str], tmp_path: Path) -> None:
    runs = [
        ["db", "upgrade"],
        ["demo", "load"],
        ["db", "current"],
        ["user", "totp", "operateur"],
        ["lines", "list"],
        ["lines", "list", "--json"],
        ["alerts", "list"],
        ["alerts", "list", "--json"],
        ["jobs", "list"],
        ["jobs", "run", "test_chase"],
        ["audit", "verify"],
        ["retention", "register"],
        ["navettes", "notify", "--smtp-port", "9"],  # nothing pending: no mail to send
        [
            "user",
            "create",
            "--username",
            "op2",
            "--role",
            "operator",
            "--password",
            "Lilas-Canari-2026!",
        ],
        ["lines", "add", "--juridiction", "75056", "--order", "42", "--msisdn", "+33612349942"],
        ["lines", "activate", "M 75 75056 42 1"],
        [
            "report",
            "--juridiction",
            "75056",
            "--period",
            "2026-Q3",
            "--format",
            "ods",
            "--out",
            str(tmp_path / "r.ods"),
        ],
        ["keys", "rotate"],
        ["db", "downgrade", "base"],
        ["db", "upgrade"],
    ]
    for args in runs:
        result = _tgd(env, *args)
        assert result.exit_code == 0, (args, result.output)
    assert (tmp_path / "r.ods").stat().st_size > 0


def test_what_the_readme_says_of_the_demo_and_of_the_alerts_is_true(
    env: dict[str, str],
) -> None:
    _tgd(env, "db", "upgrade")
    _tgd(env, "demo", "load")
    lines = json.loads(_tgd(env, "lines", "list", "--json").output)
    assert "eleven lines" in README and len(lines) == 11
    statuses = {"en_stock", "en_attente", "mise_en_service", "affecte", "resiliation_demandee"}
    assert statuses <= {line["status"] for line in lines}
    assert "seven fictitious beneficiary files" in README
    from sqlalchemy import func, select

    from tgd.db.models import BeneficiaryFile
    from tgd.db.session import make_engine, make_session_factory

    engine = make_engine(env["TGD_DATABASE_URL"])
    try:
        with make_session_factory(engine)() as s:
            assert s.scalar(select(func.count()).select_from(BeneficiaryFile)) == 7
    finally:
        engine.dispose()
    alerts = json.loads(_tgd(env, "alerts", "list", "--json").output)
    assert "alerts, newest first" in README
    stamps = [a["created_at"] for a in alerts]
    assert stamps == sorted(stamps, reverse=True)  # newest first, as the README says


@pytest.mark.parametrize(
    "target", ["run", "test", "help", "venv", "assets", "translations", "bench"]
)
def test_every_make_target_the_readme_names_exists(target: str) -> None:
    assert f"make {target}" in README or target in ("venv", "assets", "translations")
    if shutil.which("make") is None:
        pytest.skip("no make on this machine")
    done = subprocess.run(
        ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_readme_code_blocks_show_only_real_commands() -> None:
    for line in _block_commands(".venv/bin/tgd"):
        args = shlex.split(line)[1:]
        path = [a for a in args if not a.startswith("-")][:2]
        result = CliRunner().invoke(main, [*path, "--help"], catch_exceptions=False)
        assert result.exit_code == 0, (line, result.output)
        for option in [a for a in args if a.startswith("--")]:
            assert option in result.output, (line, option)
    test_sh = (ROOT / "scripts" / "test.sh").read_text()
    assert "bash scripts/test.sh tests/unit -k reference" in README
    assert '"$@"' in test_sh and 'ruff" format --check' in test_sh
    assert (ROOT / "tests" / "browser").is_dir() and "browser/" in README
