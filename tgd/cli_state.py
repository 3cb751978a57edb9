"""The state every ``tgd`` command shares: settings and platform, built on first use.

Its own module so that a door's commands (``handset_gateway.cli``) reach it without
importing ``tgd.cli``, which starts the server and therefore wires both doors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from tgd.container import Platform, build_platform
from tgd.settings import Settings, ensure_dev_secrets, load_settings


class State:
    """Settings and platform, built on first use so ``--help`` needs no configuration."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._platform: Platform | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = ensure_dev_secrets(load_settings())
        return self._settings

    @property
    def platform(self) -> Platform:
        if self._platform is None:
            self._platform = build_platform(self.settings)
            # Close pooled connections when the command ends (no dangling sockets).
            click.get_current_context().call_on_close(self._platform.engine.dispose)
        return self._platform

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction for the command (``tgd.db.writes``): keep it short."""
        from tgd.db.writes import Priority, write_transaction

        label = f"tgd {click.get_current_context().command_path.removeprefix('tgd ')}"
        with write_transaction(
            self.platform.sessions, priority=Priority.PEOPLE, label=label
        ) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """One reading transaction for the command (listings, reports)."""
        from tgd.db.session import read_transaction

        with read_transaction(self.platform.sessions) as session:
            yield session


pass_state = click.make_pass_decorator(State, ensure=True)
