"""Commands of the gateway (``tgd simulate …``, ``tgd canary``), registered on the ``tgd`` group."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    """Add the gateway's commands to the ``tgd`` command."""
    del main  # the gateway capability (issue 4) adds its commands here
