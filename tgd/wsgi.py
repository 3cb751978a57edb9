"""WSGI entry point for gunicorn: ``gunicorn tgd.wsgi:app`` (settings from TGD_* variables)."""

import os

from tgd.app import create_app

# §8: every file this process creates holds data or keys: owner only (0600, dirs 0700).
os.umask(0o077)
app = create_app()
