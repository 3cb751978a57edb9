"""The reports pages of the people's door."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the reports blueprint."""
    del app
