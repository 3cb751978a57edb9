"""`tgd` commands of the jobs capability."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    """Add this capability's commands to the ``tgd`` command."""
    del main
