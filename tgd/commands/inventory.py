"""`tgd` commands of the terminal inventory (DESIGN §10): delivery notes and the terminal listing.

- ``tgd inventory import FILE.csv``: a supplier's delivery note with the header
  ``imei,iccid,msisdn,model,warranty_end``, imported all or nothing; a bad row
  (IMEI failing the Luhn check, malformed ICCID, duplicate in the file or in the
  database) rejects the file with French errors naming each line number, exit 1.
- ``tgd terminals list [--json]``: one object per handset with ``imei``,
  ``iccid``, ``msisdn``, ``model``, ``warranty_end``, ``reference`` (null when the
  handset serves no line), ``juridiction``, ``status`` and ``delivery``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tgd.cli import friendly_errors
from tgd.cli_output import echo_json, echo_rows, json_option
from tgd.cli_state import State, pass_state

if TYPE_CHECKING:
    from tgd.services.inventory import TerminalView


def _inventory(main: click.Group) -> None:
    @main.group(help="Stock de terminaux et de cartes SIM (bordereaux de livraison).")
    def inventory() -> None:
        """Inventory commands."""

    @inventory.command(
        "import",
        help="Importe un bordereau de livraison CSV (imei,iccid,msisdn,model,warranty_end), "
        "tout ou rien.",
    )
    @click.argument("path", metavar="FICHIER.csv")
    @pass_state
    @friendly_errors
    def inventory_import(state: State, path: str) -> None:
        from tgd.domain.inventory import DeliveryRejected
        from tgd.services import inventory as inventory_service

        source = Path(path)
        try:
            raw = source.read_bytes()
        except OSError as exc:
            click.echo(f"Erreur : impossible de lire {source} ({exc.strerror}).", err=True)
            sys.exit(1)
        platform = state.platform
        try:
            with state.transaction() as session:
                delivery = inventory_service.import_delivery(
                    session, raw, filename=source.name, actor="system:cli", clock=platform.clock
                )
                out = {
                    "delivery": delivery.id,
                    "terminals": delivery.terminals,
                    "sims": delivery.sims,
                }
        except DeliveryRejected as exc:
            for error in exc.errors:
                click.echo(f"ligne {error.line} : {error.message}", err=True)
            click.echo(f"Erreur : {exc.message}", err=True)
            sys.exit(1)
        echo_json(out)


def _terminals(main: click.Group) -> None:
    @main.group(help="Terminaux (combinés) : en service, en stock, défectueux.")
    def terminals() -> None:
        """Terminal commands."""

    @terminals.command("list", help="Liste les terminaux avec leur SIM, numéro et référence.")
    @json_option
    @pass_state
    @friendly_errors
    def terminals_list(state: State, as_json: bool) -> None:
        from tgd.services.inventory import list_terminals

        with state.reading() as session:
            views = list_terminals(session)
        echo_rows(views, as_json=as_json, json_of=lambda v: v.as_json(), line=_terminal_line)


def _terminal_line(v: TerminalView) -> str:
    end = v.warranty_end.isoformat() if v.warranty_end else "—"
    return (
        f"{v.imei:<16} {v.iccid or '—':<21} {v.msisdn or '—':<14} {v.model:<12} "
        f"{end:<11} {v.status:<11} {v.reference or '—'}"
    )


def register(main: click.Group) -> None:
    """Add this capability's commands to the ``tgd`` command."""
    _inventory(main)
    _terminals(main)
