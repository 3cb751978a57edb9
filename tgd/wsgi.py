"""WSGI entry point for an external server: ``gunicorn -k gthread --threads 256 tgd.wsgi:app``.

``tgd run`` is the supported way to serve (it configures gunicorn itself, see
``tgd/server.py``); this module exists for hosts that start their WSGI server
themselves. Settings come from ``TGD_*`` variables. The console hub (publishing
events to the consoles) starts here; the scheduler does not: run one ``tgd scheduler``.
"""

import os

from tgd.app import create_app

# §8: every file this process creates holds data or keys: owner only (0600, dirs 0700).
os.umask(0o077)
app = create_app()
app.extensions["tgd_hub"].start()
