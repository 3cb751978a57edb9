"""`tgd` commands of the reports capability: ``tgd report`` and ``tgd cdr import`` (DESIGN §7).

``tgd report`` checks everything (scope, period, the user's right to it)
before it writes anything, and writes the file through a temporary name
renamed once its audit entry is committed: a refused or failed report leaves
no file behind, and a written file always has its ``report.download`` entry.
Without ``--user`` the command acts for the centre (any scope, anonymized
only); with it, the user's role and juridictions apply as on the reports
page, and only a parquet user gets the nominative annex (R-51).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import click

from tgd.cli import friendly_errors
from tgd.cli_french import FrenchCommand, FrenchGroup
from tgd.cli_state import State, pass_state


def register(main: click.Group) -> None:
    """Add this capability's commands to the ``tgd`` command."""
    main.add_command(report)
    main.add_command(cdr)


@click.command(
    "report", cls=FrenchCommand, help="Produit le rapport d'un comité de suivi (ODS, ODT ou PDF)."
)
@click.option("--juridiction", default=None, help="Code INSEE de la juridiction.")
@click.option("--departement", default=None, help="Code du département (75, 2A, 974…).")
@click.option("--national", is_flag=True, help="Rapport national.")
@click.option("--period", default=None, help="Trimestre 2026-T3 (ou 2026-Q3), semestre 2026-S1.")
@click.option("--from", "date_from", default=None, help="Premier jour (AAAA-MM-JJ).")
@click.option("--to", "date_to", default=None, help="Dernier jour (AAAA-MM-JJ).")
@click.option(
    "--format", "fmt", type=click.Choice(["ods", "odt", "pdf"]), default="ods", show_default=True
)
@click.option("--nominative", is_flag=True, help="Ajoute l'annexe nominative (parquet seulement).")
@click.option("--user", "username", default=None, help="Produit le rapport au nom de ce compte.")
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False), help="Fichier produit."
)
@pass_state
@friendly_errors
def report(
    state: State,
    juridiction: str | None,
    departement: str | None,
    national: bool,
    period: str | None,
    date_from: str | None,
    date_to: str | None,
    fmt: str,
    nominative: bool,
    username: str | None,
    out: str,
) -> None:
    from sqlalchemy import select

    from tgd.db.models.users import User
    from tgd.domain.errors import N_, NotFound
    from tgd.services import reports

    platform = state.platform
    target = Path(out)
    if not target.parent.is_dir():
        raise click.ClickException(f"le dossier {target.parent} n'existe pas")
    with state.reading() as session:
        user = None
        if username:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound(N_("Compte inconnu : %(name)s."), name=username[:64])
        scope, wanted, provisional = reports.prepare(
            session,
            juridiction=juridiction,
            departement=departement,
            national=national,
            period=period,
            date_from=date_from,
            date_to=date_to,
            nominative=nominative,
            user=user,
            clock=platform.clock,
        )
        built, read = reports.build_report(
            session,
            scope,
            wanted,
            provisional=provisional,
            clock=platform.clock,
            nominative=nominative,
            cipher=platform.cipher,
            settings=platform.settings,
        )
        actor = f"user:{user.id}" if user else "system:cli"
    # The file and its audit entry go together, or neither: written aside, audited in one
    # short write transaction, and only then put in place.
    with _written_aside(target, lambda handle: reports.write(built, fmt, handle)) as publish:
        with state.transaction() as session:
            reports.record_download(session, built, fmt, read, actor=actor, clock=platform.clock)
        publish()
    state_text = "provisoire" if provisional else "définitif"
    click.echo(f"Rapport {state_text} écrit dans {target} ({built.title}).")


@contextmanager
def _written_aside(
    target: Path, produce: Callable[[IO[bytes]], None]
) -> Iterator[Callable[[], None]]:
    """Write into a temporary file beside ``target``; ``publish()`` renames it into place.

    A temporary file that was not published (the audit failed) is removed.
    """
    handle, temporary = tempfile.mkstemp(prefix=".tgd-report-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            produce(stream)
        yield lambda: os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


@click.group(
    "cdr", cls=FrenchGroup, help="Relevés d'appels de l'opérateur (numéros appelés, durées)."
)
def cdr() -> None:
    """Carrier call-record commands."""


@cdr.command("import", help="Importe un journal d'appels Twilio (CSV ou JSON).")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@pass_state
@friendly_errors
def cdr_import(state: State, path: str) -> None:
    from tgd.services import cdr_import as service

    platform = state.platform
    gateway = state.settings.gateway
    centre = tuple(
        n for n in (gateway.alert_number, gateway.test_call_number, gateway.canary_number) if n
    )
    content = Path(path).read_bytes()
    with state.transaction() as session:
        result = service.import_call_log(
            session,
            content,
            filename=Path(path).name,
            centre_numbers=centre,
            actor="system:cli",
            cipher=platform.cipher,
            clock=platform.clock,
        )
    click.echo(
        f"{result.imported} appel(s) importé(s), {result.duplicates} déjà connu(s), "
        f"{result.known_alerts} passé(s) par la passerelle, {result.ignored} sans ligne TGD."
    )
