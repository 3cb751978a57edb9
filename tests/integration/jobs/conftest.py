"""Job fixtures: a key-file cipher (destruction retires master keys) and a job runner."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.integration.web.conftest import enrolled, login  # noqa: F401 - shared fixtures
from tgd.adapters.crypto import KeyFileCipher, MasterKeyRing
from tgd.container import Platform, build_geocoder
from tgd.db.models import BeneficiaryFile, JobRun
from tgd.db.writes import write_transaction
from tgd.domain.lifecycle import FileState
from tgd.jobs.registry import JOBS
from tgd.jobs.runner import run_job


@pytest.fixture
def key_file_cipher(tmp_path: Path) -> KeyFileCipher:
    """Give a cipher whose master keys live in a file, as in production."""
    path = tmp_path / "keys" / "master.key"
    path.parent.mkdir()
    MasterKeyRing.generate().save(path)
    return KeyFileCipher(path)


@pytest.fixture
def platform(platform: Platform, key_file_cipher: KeyFileCipher) -> Platform:
    """The test platform with the key-file cipher."""
    platform.cipher = key_file_cipher
    return platform


RunJob = Callable[[str], JobRun | None]


@pytest.fixture
def run(platform: Platform) -> RunJob:
    """Run a job by name at the platform's (frozen) clock, as the scheduler would."""

    def _run(name: str) -> JobRun | None:
        return run_job(
            JOBS[name],
            settings=platform.settings,
            engine=platform.engine,
            sessions=platform.sessions,
            cipher=platform.cipher,
            clock=platform.clock,
            holder="test:runner",
            geocoder=build_geocoder(platform.settings),
        )

    return _run


def close_file(platform: Platform, closed_at: datetime) -> int:
    """Close the demo file whose termination was requested (M 75 75056 04 1), at ``closed_at``."""
    with write_transaction(platform.sessions) as session:
        file = session.scalars(
            select(BeneficiaryFile).where(BeneficiaryFile.state == FileState.RESILIATION_DEMANDEE)
        ).one()
        file.state = FileState.CLOTURE
        file.closed_at = closed_at
        return file.id
