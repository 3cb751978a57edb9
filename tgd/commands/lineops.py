"""Commands of line operations (issue 15): call restrictions and network coverage.

``tgd restrictions export|set|lift`` (Annexe 2 I.1) and ``tgd coverage import|show``
(Annexe 2 I.3). Line health is a scheduled job (``tgd jobs run line_health``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import click

from tgd.cli import friendly_errors
from tgd.cli_output import echo_json, echo_rows, json_option
from tgd.cli_state import State, pass_state


def _restrictions(main: click.Group) -> None:
    @main.group(help="Restrictions d'appel des lignes (liste de numéros autorisés).")
    def restrictions() -> None:
        """Call restriction commands."""

    @restrictions.command("export", help="Écrit la liste pour l'opérateur (CSV, docs/lines.md).")
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
    @pass_state
    @friendly_errors
    def export(state: State, out: Path | None) -> None:
        from tgd.services import audit
        from tgd.services import restrictions as service

        settings = state.settings
        with state.transaction() as session:
            rows = service.carrier_rows(
                session,
                cipher=state.platform.cipher,
                gateway=settings.gateway,
                restrictions=settings.restrictions,
            )
            audit.record(
                session,
                actor="system:cli",
                action="line.restriction_export",
                details={"lines": len({r[0] for r in rows}), "rows": len(rows)},
                clock=state.platform.clock,
            )
        text = service.carrier_csv(rows)
        if out is None:
            sys.stdout.write(text)
            return
        tmp = out.with_name(out.name + ".part")
        tmp.write_text(text, encoding="utf-8", newline="")
        tmp.replace(out)
        click.echo(f"{len(rows)} ligne(s) écrite(s) dans {out}", err=True)

    @restrictions.command("set", help="Limite une ligne à des numéros (demande du parquet).")
    @click.argument("reference")
    @click.option("--voice", "voice", multiple=True, help="Numéro autorisé en appel (répétable).")
    @click.option("--sms", "sms", multiple=True, help="Numéro autorisé en SMS (répétable).")
    @click.option("--request", "request_ref", required=True, help="Référence de la demande.")
    @click.option("--requested-on", required=True, help="Date de la demande (AAAA-MM-JJ).")
    @pass_state
    @friendly_errors
    def set_(
        state: State,
        reference: str,
        voice: tuple[str, ...],
        sms: tuple[str, ...],
        request_ref: str,
        requested_on: str,
    ) -> None:
        from tgd.services import line_admin
        from tgd.services import restrictions as service

        day = _day(requested_on)
        with state.transaction() as session:
            record = line_admin.current_record(session, reference)
            version = service.set_restriction(
                session,
                record.line,
                voice=voice,
                sms=sms,
                request_ref=request_ref,
                requested_on=day,
                user_id=None,
                cipher=state.platform.cipher,
                clock=state.platform.clock,
            )
            out = {"reference": record.reference, "voice": version.voice_count}
            out["sms"] = version.sms_count
        echo_json(out)

    @restrictions.command("lift", help="Lève la restriction d'une ligne (demande du parquet).")
    @click.argument("reference")
    @click.option("--request", "request_ref", required=True, help="Référence de la demande.")
    @click.option("--requested-on", required=True, help="Date de la demande (AAAA-MM-JJ).")
    @pass_state
    @friendly_errors
    def lift(state: State, reference: str, request_ref: str, requested_on: str) -> None:
        from tgd.services import line_admin
        from tgd.services import restrictions as service

        day = _day(requested_on)
        with state.transaction() as session:
            record = line_admin.current_record(session, reference)
            service.lift_restriction(
                session,
                record.line,
                request_ref=request_ref,
                requested_on=day,
                user_id=None,
                clock=state.platform.clock,
            )
            ref = record.reference
        echo_json({"reference": ref, "restricted": False})


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("date AAAA-MM-JJ attendue", param_hint="--requested-on") from None


def _coverage(main: click.Group) -> None:
    @main.group(help="Couverture du réseau de l'opérateur (zones blanches).")
    def coverage() -> None:
        """Coverage commands."""

    @coverage.command("import", help="Importe une couche GeoJSON d'un territoire.")
    @click.option("--territory", required=True, help="Code du territoire (75, 974, 975…).")
    @click.option(
        "--kind",
        required=True,
        type=click.Choice(["couverture", "urbain", "routes", "rail"]),
        help="couverture (polygones de l'opérateur), urbain, routes ou rail.",
    )
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @pass_state
    @friendly_errors
    def import_(state: State, territory: str, kind: str, path: Path) -> None:
        from tgd.services import coverage as service

        text = path.read_text(encoding="utf-8", errors="replace")
        with state.reading() as session:  # checking and merging polygons takes a while
            plan = service.plan_import(session, text, territory_code=territory, kind=kind)
        if not plan.is_valid:
            for template, params in plan.all_errors:
                click.echo(f"Erreur : {template % params if params else template}", err=True)
            sys.exit(1)
        with state.transaction() as session:
            layer = service.apply_import(
                session, plan, source_name=path.name, user_id=None, clock=state.platform.clock
            )
            out = {"territory": territory, "kind": kind, "features": layer.features}
            out["size"] = round(layer.magnitude, 3)
        echo_json(out)

    @coverage.command("show", help="Affiche la couverture en vigueur et ses pourcentages.")
    @json_option
    @pass_state
    @friendly_errors
    def show(state: State, as_json: bool) -> None:
        from tgd.services import coverage as service

        with state.reading() as session:
            rows = [
                {
                    "territory": t.territory.code,
                    "coverage_since": t.coverage.valid_from.isoformat() if t.coverage else None,
                    **{
                        f.kind.value: None if f.share_pct is None else round(f.share_pct, 2)
                        for f in t.figures
                    },
                }
                for t in service.summary(session)
            ]
        echo_rows(rows, as_json=as_json, line=_coverage_line)


def _coverage_line(r: Mapping[str, object]) -> str:
    shares = "  ".join(
        f"{k} {'—' if r[k] is None else str(r[k]) + ' %'}" for k in ("urbain", "routes", "rail")
    )
    since = str(r["coverage_since"] or "")[:10] or "non fournie"
    return f"{r['territory']:<4} carte {since:<12} {shares}"


def register(main: click.Group) -> None:
    """Add this capability's commands to the ``tgd`` command."""
    _restrictions(main)
    _coverage(main)
