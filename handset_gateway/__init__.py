"""The door for machines: carrier webhooks, signed terminal data and the terminal simulator."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect


def init_app(app: Flask, *, csrf: CSRFProtect) -> None:
    """Register the gateway's blueprints; they authenticate by signature, not CSRF (R-54)."""
    # The carrier webhooks are added by the gateway capability (issue 4).
    del app, csrf
