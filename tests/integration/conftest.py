"""Fixtures shared by every integration package: demo accounts enrolled, and ``login``."""

from tests.integration.web.conftest import enrolled, login  # noqa: F401 - re-exported fixtures
