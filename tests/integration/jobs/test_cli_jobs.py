"""`tgd jobs list|run --at` on the demo data: destroys exactly the files due, audit intact."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from tgd.cli import main
from tgd.container import build_platform
from tgd.db.models import BeneficiaryFile
from tgd.db.writes import write_transaction
from tgd.domain.lifecycle import FileState
from tgd.settings import Settings


def _env(settings: Settings) -> dict[str, str]:
    return {
        "TGD_MODE": "test",
        "TGD_DATA_DIR": str(settings.data_dir),
        "TGD_DATABASE_URL": settings.database_url,
        "TGD_SECRET_KEY": settings.secret_key,
        "TGD_MASTER_KEY_FILE": str(settings.data_dir / "cli-master.key"),
        "TGD_TWILIO_AUTH_TOKEN": settings.twilio.auth_token,
        "TGD_SECURITY_PASSWORD_HASHING": "fast",
        "TGD_CONFIG": "",
    }


def test_jobs_run_at_destroys_exactly_the_files_due(
    settings: Settings, engine: object, tmp_path: Path
) -> None:
    runner = CliRunner()
    env = _env(settings)
    assert runner.invoke(main, ["demo", "load"], env=env).exit_code == 0
    platform = build_platform(settings)
    try:
        with write_transaction(platform.sessions) as s:
            file = s.scalars(
                select(BeneficiaryFile).where(
                    BeneficiaryFile.state == FileState.RESILIATION_DEMANDEE
                )
            ).one()
            file.state = FileState.CLOTURE
            file.closed_at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # 10:30 Paris
            number = file.number
        early = runner.invoke(
            main, ["jobs", "run", "destruction", "--at", "2027-03-23T10:29"], env=env
        )
        assert early.exit_code == 0, early.output
        # Only the demo's file closed five months ago (tgd/services/demo_history.py) is due.
        assert '"count": 1' in early.output
        with platform.sessions() as s:
            assert s.get(BeneficiaryFile, file.id).state is FileState.CLOTURE  # type: ignore[union-attr]
        due = runner.invoke(
            main, ["jobs", "run", "destruction", "--at", "2027-03-23T10:30:00+01:00"], env=env
        )
        assert due.exit_code == 0, due.output
        assert '"count": 1' in due.output
        with platform.sessions() as s:
            states = {f.number: f.state for f in s.scalars(select(BeneficiaryFile))}
        assert states[number] is FileState.DETRUIT
        assert sum(state is FileState.DETRUIT for state in states.values()) == 2
        register = runner.invoke(main, ["retention", "register"], env=env)
        assert number in register.output and "M 75 75056 04 1" in register.output
        verify = runner.invoke(main, ["audit", "verify"], env=env)
        assert verify.exit_code == 0, verify.output
        listing = runner.invoke(main, ["jobs", "list", "--json"], env=env)
        jobs = {j["name"]: j for j in json.loads(listing.output)}
        assert jobs["destruction"]["last_outcome"] == "ok" and jobs["destruction"]["next_run"]
        unknown = runner.invoke(main, ["jobs", "run", "nope"], env=env)
        assert unknown.exit_code != 0 and "tâche inconnue" in unknown.output
    finally:
        platform.engine.dispose()
