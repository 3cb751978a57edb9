"""`tgd jobs list|run` and `tgd scheduler` (DESIGN §10, R-33), and `tgd retention` (R-16b)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import click

from tgd.cli import friendly_errors
from tgd.cli_output import echo_rows, json_option
from tgd.cli_state import State, pass_state


def _parse_at(value: str, timezone: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"« {value} » n'est pas une date ISO 8601 (ex. 2027-03-24T03:00:00+01:00)"
        ) from None
    # A date without offset is read in the centre's time zone.
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo(timezone))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _state_line(row: dict[str, object]) -> str:
    """Say in French whether the job is done: an operator reads this line first."""
    if row["failures_in_a_row"]:
        return (
            f"EN ÉCHEC : {row['failures_in_a_row']} exécution(s) de suite "
            f"({row['last_failure_reason']})"
        )
    if row["pending"] == "rotation":
        return "INCOMPLÈTE : rotation de la clé maîtresse à terminer (destruction non aboutie)"
    if row["last_success"] is None:
        return "jamais exécutée"
    return "à jour"


def _job_lines(r: dict[str, object]) -> str:
    """A job in three lines: name and label, state, last success and next run."""
    past_failure = f" ; dernier échec : {r['last_failure']}" if r["last_failure"] else ""
    return "\n".join(
        [
            f"{r['name']:<20} {r['label']}",
            f"{'':<20} {_state_line(r)}",
            f"{'':<20} dernière réussite : {r['last_success'] or 'jamais'} ; "
            f"prochaine : {r['next_run']}{past_failure}",
        ]
    )


def register(main: click.Group) -> None:
    """Add this capability's commands to the ``tgd`` command."""

    @main.group(help="Tâches planifiées (relances, destruction, délais de service).")
    def jobs() -> None:
        """Job commands."""

    @jobs.command("list", help="Liste les tâches planifiées, leur dernière et prochaine exécution.")
    @json_option
    @pass_state
    @friendly_errors
    def jobs_list(state: State, as_json: bool) -> None:
        from tgd.jobs.status import job_statuses

        platform = state.platform
        with state.reading() as session:
            rows = [
                {
                    "name": s.name,
                    "label": s.label,
                    "rule": s.rule,
                    "schedule": s.schedule,
                    "last_run": _iso(s.last_run.started_at if s.last_run else None),
                    "last_outcome": s.last_run.outcome if s.last_run else None,
                    "last_success": _iso(s.last_success.started_at if s.last_success else None),
                    "last_failure": _iso(s.last_failure.started_at if s.last_failure else None),
                    "last_failure_reason": (
                        s.last_failure.details.get("error") if s.last_failure else None
                    ),
                    "failures_in_a_row": s.failures_in_a_row,
                    "pending": s.pending,
                    "healthy": s.healthy,
                    "next_run": _iso(s.next_run),
                }
                for s in job_statuses(session, state.settings, now=platform.clock.now())
            ]
        echo_rows(rows, as_json=as_json, line=_job_lines)

    @jobs.command("run", help="Exécute une tâche maintenant, ou comme si l'on était à --at.")
    @click.argument("name")
    @click.option("--at", "at", default=None, help="Date ISO 8601 (heure de Paris sans décalage).")
    @pass_state
    @friendly_errors
    def jobs_run(state: State, name: str, at: str | None) -> None:
        from tgd.adapters.clock import FrozenClock
        from tgd.container import build_platform
        from tgd.jobs import lease
        from tgd.jobs.registry import JOBS
        from tgd.jobs.runner import JobBusy, run_job

        spec = JOBS.get(name)
        if spec is None:
            raise click.ClickException(
                f"tâche inconnue « {name} » ; tâches : {', '.join(sorted(JOBS))}"
            )
        moment = _parse_at(at, state.settings.default_timezone) if at else None
        platform = (
            build_platform(state.settings, clock=FrozenClock(moment)) if moment else state.platform
        )
        try:
            run = run_job(
                spec,
                settings=state.settings,
                engine=platform.engine,
                sessions=platform.sessions,
                cipher=platform.cipher,
                clock=platform.clock,
                holder=f"cli:{lease.new_holder()}",
                manual_at=moment,
                telephony=platform.telephony,
                anchor_copy=platform.anchor_copy,
                geocoder=platform.geocoder,
            )
        except JobBusy:
            raise click.ClickException(f"la tâche « {name} » est déjà en cours ailleurs") from None
        finally:
            if moment:
                platform.engine.dispose()
        details = dict(run.details) if run else {}
        details.pop("holder", None)
        click.echo(
            f"{name} : {run.outcome if run else 'ok'} {json.dumps(details, ensure_ascii=False)}"
        )

    @main.command(
        "scheduler", help="Lance le planificateur (processus dédié, mode multi-processus)."
    )
    @click.option(
        "--lease-seconds",
        default=15,
        show_default=True,
        type=click.IntRange(1, 3600),
        help="Durée du bail : un planificateur arrêté est remplacé après ce délai.",
    )
    @pass_state
    @friendly_errors
    def scheduler(state: State, lease_seconds: int) -> None:
        from tgd.backup import serving
        from tgd.cli import require_migrated
        from tgd.jobs.scheduler import run_forever
        from tgd.logs import configure_logging

        configure_logging(
            state.settings.log_level, state.settings.server.log_format, service="scheduler"
        )
        require_migrated(state.settings)
        click.echo("planificateur démarré (un seul agit à la fois)")
        with serving(state.settings.database_url):  # `tgd restore` refuses meanwhile
            run_forever(state.platform, lease_ttl=timedelta(seconds=lease_seconds))

    @main.group(help="Conservation des données (R-16b).")
    def retention() -> None:
        """Retention commands."""

    @retention.command("hold", help="Met un dossier sous conservation judiciaire (ou la lève).")
    @click.argument("number")
    @click.option("--lift", is_flag=True, help="Lève la conservation judiciaire.")
    @pass_state
    @friendly_errors
    def retention_hold(state: State, number: str, lift: bool) -> None:
        from sqlalchemy import select

        from tgd.db.models.beneficiaries import BeneficiaryFile
        from tgd.services import retention as service

        platform = state.platform
        with state.transaction() as session:
            file = session.scalar(select(BeneficiaryFile).where(BeneficiaryFile.number == number))
            if file is None:
                raise click.ClickException(f"aucun dossier numéro « {number} »")
            service.set_legal_hold(
                session, file, on=not lift, actor="system:cli", clock=platform.clock
            )
        click.echo(f"dossier {number} : conservation judiciaire {'levée' if lift else 'posée'}")

    @retention.command("register", help="Exporte le registre des destructions (CSV).")
    @pass_state
    @friendly_errors
    def retention_register(state: State) -> None:
        from tgd.services import retention as service

        with state.reading() as session:
            rows = service.register_rows(service.destruction_register(session))
        header = list(service.REGISTER_COLUMNS)
        click.echo(service.register_csv(header, rows).decode("utf-8-sig"), nl=False)
