"""WSGI entry point for gunicorn: ``gunicorn tgd.wsgi:app`` (settings from TGD_* variables)."""

from tgd.app import create_app

app = create_app()
