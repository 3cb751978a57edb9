"""Fixtures of the migration tests: an empty database on each backend."""

from __future__ import annotations

import pytest

from tgd.settings import Settings


@pytest.fixture
def url(settings: Settings) -> str:
    """Give an empty database on each backend (no create_all here)."""
    return settings.database_url
