"""The ``tgd`` command: database, demo data, users, server, listings, audit, keys (DESIGN §10).

Each command is one entry point and owns one transaction. Every error is
answered in French, never with a traceback (``tgd.cli_french``): exit code 1
for a refused operation, 2 for a usage or configuration error. The process
creates its files private (umask 077): the database, its WAL, keys, anchors
and exports hold personal data or protect it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from tgd.adapters.crypto import KeyFileCipher
from tgd.cli_french import FrenchGroup, exit_for
from tgd.cli_output import echo_json, echo_rows, json_option
from tgd.cli_state import State, pass_state
from tgd.container import secure_data_dir
from tgd.domain.roles import Role
from tgd.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn expected failures into a French message and a non-zero exit code.

    The ``tgd`` group does the same for every command (``FrenchGroup.invoke``); this
    decorator keeps it true for a command function called on its own.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            exit_for(exc)
            raise

    return wrapper  # type: ignore[return-value]


@click.group(cls=FrenchGroup, help="TGD — plateforme Téléphone Grave Danger.")
@click.version_option(package_name="tgd", help="Affiche la version et quitte.")
@click.option(
    "--trace",
    is_flag=True,
    help="Affiche la trace Python d'une erreur inattendue (pour l'équipe technique).",
)
def main(trace: bool) -> None:
    """Run a TGD command."""
    del trace  # read by FrenchGroup.invoke when a command fails unexpectedly
    # §8: every file this process creates holds data or keys: owner only (0600, dirs 0700).
    os.umask(0o077)


# --- database -------------------------------------------------------------------------------


@main.group(help="Schéma de la base de données (migrations Alembic).")
def db() -> None:
    """Database commands."""


@db.command("upgrade", help="Migre la base vers la révision donnée (head par défaut).")
@click.argument("revision", default="head")
@pass_state
@friendly_errors
def db_upgrade(state: State, revision: str) -> None:
    from tgd.db import migrate

    secure_data_dir(state.settings)
    with _known_revision(revision):
        migrate.upgrade(state.settings.database_url, revision)
    click.echo(f"base migrée : {migrate.current(state.settings.database_url)}")


@db.command(
    "downgrade",
    help="Revient à la révision donnée (-1 par défaut, « base » vide tout).",
    # "-1" is a revision, not an option: Click would refuse it as unknown.
    context_settings={"ignore_unknown_options": True},
)
@click.argument("revision", default="-1")
@pass_state
@friendly_errors
def db_downgrade(state: State, revision: str) -> None:
    from tgd.db import migrate

    with _known_revision(revision):
        migrate.downgrade(state.settings.database_url, revision)
    click.echo(f"base ramenée à : {migrate.current(state.settings.database_url) or 'base'}")


@contextmanager
def _known_revision(revision: str) -> Iterator[None]:
    """Answer Alembic's refusal of a revision in French (exit 2)."""
    from alembic.util.exc import CommandError

    try:
        yield
    except CommandError:
        raise click.BadParameter(
            f"révision « {revision} » inconnue ou hors d'atteinte (voir « tgd db current »)",
            param_hint="REVISION",
        ) from None


@db.command("current", help="Affiche la révision actuelle de la base.")
@pass_state
@friendly_errors
def db_current(state: State) -> None:
    from tgd.db import migrate

    click.echo(migrate.current(state.settings.database_url) or "base")


# --- demo -----------------------------------------------------------------------------------


@main.group(help="Données de démonstration (mode embarqué uniquement).")
def demo() -> None:
    """Demo commands."""


@demo.command("load", help="Charge les données de démonstration et affiche les comptes.")
@pass_state
@friendly_errors
def demo_load(state: State) -> None:
    from tgd.services import demo_lineops
    from tgd.services.demo import is_loaded, load_demo
    from tgd.services.demo_history import add_history

    if state.settings.is_production:
        raise click.ClickException("les données de démonstration sont refusées en production")
    platform = state.platform
    with state.transaction() as session:
        if is_loaded(session):
            click.echo("Données de démonstration déjà chargées.")
        else:
            load_demo(session, cipher=platform.cipher, hasher=platform.hasher, clock=platform.clock)
            add_history(
                session,
                retention=state.settings.retention,
                cipher=platform.cipher,
                clock=platform.clock,
            )
            demo_lineops.load(session, cipher=platform.cipher, clock=platform.clock)
            mark_demo_accounts_enrolled(session, clock=platform.clock)
            click.echo("Données de démonstration chargées.")
    print_demo_accounts()


def mark_demo_accounts_enrolled(session: Session, *, clock: Any) -> None:
    """Demo accounts skip the QR enrolment: their TOTP secrets are printed for the demo."""
    from tgd.services.demo import DEMO_ACCOUNTS
    from tgd.services.users import mark_enrolled

    mark_enrolled(session, [a.username for a in DEMO_ACCOUNTS], clock=clock)


def print_demo_accounts() -> None:
    """Print the demo logins: username, role, password and TOTP secret."""
    from tgd.services.demo import DEMO_ACCOUNTS

    click.echo("\nComptes de démonstration (mot de passe, puis code TOTP de l'application) :")
    click.echo(f"  {'identifiant':<17}{'rôle':<16}{'mot de passe':<24}secret TOTP")
    for account in DEMO_ACCOUNTS:
        click.echo(
            f"  {account.username:<17}{account.role.label:<16}{account.password:<24}"
            f"{account.totp_secret}"
        )
    click.echo("  Code TOTP du moment : tgd user totp IDENTIFIANT (démo uniquement)\n")


# --- users ----------------------------------------------------------------------------------


@main.group(help="Comptes utilisateurs.")
def user() -> None:
    """User commands."""


@user.command("create", help="Crée un compte et affiche son secret TOTP à enrôler.")
@click.option("--username", required=True, help="Identifiant de connexion.")
@click.option("--name", "display_name", default="", help="Nom affiché.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role]),
)
@click.option("--juridiction", "juridictions", multiple=True, help="Code INSEE (répétable).")
@click.option("--email", default=None)
@click.option(
    "--audio-line",
    default="",
    help="Ligne audio du téléassisteur : numéro ou adresse sip: (R-24d).",
)
@click.password_option("--password", help="Mot de passe (12 caractères au moins).")
@pass_state
@friendly_errors
def user_create(
    state: State,
    username: str,
    display_name: str,
    role: str,
    juridictions: tuple[str, ...],
    email: str | None,
    audio_line: str,
    password: str,
) -> None:
    from tgd.services import operators, users

    platform = state.platform
    with state.transaction() as session:
        account, secret = users.create_user(
            session,
            username=username,
            display_name=display_name,
            role=Role(role),
            password=password,
            juridiction_insees=juridictions,
            email=email,
            actor="system:cli",
            cipher=platform.cipher,
            hasher=platform.hasher,
            clock=platform.clock,
        )
        if audio_line:
            account.audio_line = operators.normalise_audio_line(audio_line)
        uri = users.provisioning_uri(account, secret, issuer=state.settings.security.totp_issuer)
    click.echo(f"Compte « {account.username} » créé ({account.role.label}).")
    click.echo(f"Secret TOTP : {secret}")
    click.echo(f"URI d'enrôlement : {uri}")


@user.command("audio-line", help="Fixe (ou efface avec « ») la ligne audio d'un compte (R-24d).")
@click.argument("username")
@click.argument("line")
@pass_state
@friendly_errors
def user_audio_line(state: State, username: str, line: str) -> None:
    from tgd.services import operators, users

    platform = state.platform
    with state.transaction() as session:
        account = users.find_user(session, username)
        if account is None:
            raise click.ClickException(f"compte « {username} » introuvable")
        value = operators.set_audio_line(
            session, account, line, actor="system:cli", clock=platform.clock
        )
    click.echo(f"Ligne audio de « {account.username} » : {value or 'aucune'}")


@user.command("totp", help="Affiche le code TOTP du moment d'un compte de démonstration.")
@click.argument("username")
@pass_state
@friendly_errors
def user_totp(state: State, username: str) -> None:
    import pyotp

    from tgd.services.demo import DEMO_ACCOUNTS

    if state.settings.is_production:
        raise click.ClickException("réservé à la démonstration")
    account = next((a for a in DEMO_ACCOUNTS if a.username == username), None)
    if account is None:
        raise click.ClickException(f"« {username} » n'est pas un compte de démonstration")
    click.echo(pyotp.TOTP(account.totp_secret).now())


# --- server ---------------------------------------------------------------------------------


@main.command("run", help="Lance la plateforme (serveur de production gunicorn).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--threads",
    default=256,
    show_default=True,
    type=click.IntRange(8, 4096),
    help="Fils du processus (une console connectée en occupe un).",
)
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    show_default=True,
    help="Tâches planifiées et escalade dans ce processus (mode embarqué).",
)
@pass_state
@friendly_errors
def run(state: State, host: str, port: int, threads: int, scheduler: bool) -> None:
    from tgd import metrics
    from tgd.backup import serving
    from tgd.logs import configure_logging
    from tgd.server import ServerOptions, serve

    settings = state.settings
    configure_logging(settings.log_level, settings.server.log_format, service="app")
    require_migrated(settings)
    # Before anything imports prometheus-client: the worker inherits the directory.
    metrics.prepare(metrics.instance_dir(settings.metrics_path, f"app-{host}-{port}"))
    click.echo(f"TGD en service sur http://{host}:{port}")
    if not settings.is_production:
        click.echo(
            "Déclencher une alerte de démonstration : tgd simulate alert --line 'M 75 75056 01 1'"
        )
    with serving(settings.database_url):  # `tgd restore` refuses while this is held
        serve(settings, ServerOptions(host=host, port=port, threads=threads, scheduler=scheduler))


def require_migrated(settings: Settings) -> None:
    """Refuse to serve a database whose schema is not the code's (exit 2, names the fix)."""
    from tgd.db.session import make_engine
    from tgd.readiness import NotMigrated
    from tgd.readiness import require_migrated as check

    engine = make_engine(settings.database_url, watch_writes=False)
    try:
        check(engine)
    except NotMigrated as exc:
        click.echo(f"Erreur : {exc}", err=True)
        sys.exit(2)
    except (OperationalError, ProgrammingError) as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        click.echo(f"Erreur : base de données injoignable ({reason})", err=True)
        sys.exit(2)
    finally:
        engine.dispose()


# --- backups --------------------------------------------------------------------------------


@main.command(
    "backup", help="Sauvegarde cohérente de la base dans le répertoire OUT (sans la clé)."
)
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@pass_state
@friendly_errors
def backup_command(state: State, out: Path) -> None:
    import time

    from tgd.backup import BackupError, backup

    started = time.monotonic()
    try:
        done = backup(state.settings.database_url, out)
    except BackupError as exc:
        click.echo(f"Erreur : {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"sauvegarde {done.backend} écrite dans {done.path} ({done.size} octets, révision "
        f"{done.revision}, {time.monotonic() - started:.1f} s) ; la clé maîtresse n'y est pas : "
        f"gardez {state.settings.master_key_path} à part"
    )


@main.command(
    "restore", help="Restaure la sauvegarde IN dans la base configurée (serveurs arrêtés)."
)
@click.argument("source", metavar="IN", type=click.Path(exists=True, path_type=Path))
@pass_state
@friendly_errors
def restore_command(state: State, source: Path) -> None:
    import time

    from tgd.adapters.crypto import MasterKeyRing
    from tgd.backup import BackupError, restore

    settings = state.settings
    started = time.monotonic()
    ring = MasterKeyRing.load(settings.master_key_path)
    try:
        done = restore(settings.database_url, source, ring_ids=ring.ids)
    except BackupError as exc:
        click.echo(f"Erreur : {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"base {done.backend} restaurée à la révision {done.revision} depuis {source} "
        f"en {time.monotonic() - started:.1f} s"
    )
    if done.rekeyed:
        click.echo(f"{done.rekeyed} clé(s) de données reprise(s) de la base remplacée")
    if done.unreadable:
        click.echo(
            f"{done.unreadable} clé(s) de données illisible(s) : dossiers détruits depuis la "
            "sauvegarde (R-52), ils le restent"
        )
    click.echo(
        "Vérifiez puis relancez les serveurs ; « tgd db upgrade » si le code est plus récent."
    )


# --- listings -------------------------------------------------------------------------------


@main.group(help="Lignes (terminaux).")
def lines() -> None:
    """Line commands."""


@lines.command("list", help="Liste les lignes avec leur référence et leur statut.")
@json_option
@pass_state
@friendly_errors
def lines_list(state: State, as_json: bool) -> None:
    from tgd.services.lines import list_lines

    with state.reading() as session:
        views = list_lines(session)
    echo_rows(
        views,
        as_json=as_json,
        json_of=lambda v: v.as_json(),
        line=lambda v: f"{v.reference:<20} {v.msisdn:<15} {v.status:<22} {v.juridiction}",
    )


@main.group(help="Alertes.")
def alerts() -> None:
    """Alert commands."""


@alerts.command("show", help="Une alerte avec les jambes de son pont (DESIGN §10).")
@click.argument("alert_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Objet JSON sur la sortie standard.")
@pass_state
@friendly_errors
def alerts_show(state: State, alert_id: int, as_json: bool) -> None:
    from tgd.services.alerts import show_alert

    with state.reading() as session:
        found = show_alert(session, alert_id)
    if found is None:
        raise click.ClickException(f"alerte {alert_id} introuvable")
    if as_json:
        echo_json(found, indent=2)
        return
    ref = found["line_reference"] or "appelant non identifié"
    click.echo(f"{found['id']:>6} {found['created_at']} {found['state']:<8} {ref}")
    for leg in found["legs"]:
        click.echo(f"       {leg['role']:<13} {leg['status']}")


@alerts.command("list", help="Liste les alertes.")
@json_option
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100000))
@pass_state
@friendly_errors
def alerts_list(state: State, as_json: bool, limit: int) -> None:
    from tgd.services.alerts import list_alerts

    with state.reading() as session:
        rows = list_alerts(session, limit=limit)
    echo_rows(rows, as_json=as_json, line=_alert_line)


def _alert_line(r: dict[str, Any]) -> str:
    ref = r["line_reference"] or "appelant non identifié"
    return f"{r['id']:>6} {r['created_at']} {r['state']:<8} {r['nature']:<16} {ref}"


# --- audit ----------------------------------------------------------------------------------


@main.group(help="Journal d'audit (chaîné, R-53).")
def audit() -> None:
    """Audit commands."""


@audit.command("verify", help="Scelle les entrées en attente puis vérifie toute la chaîne.")
@pass_state
@friendly_errors
def audit_verify(state: State) -> None:
    from tgd.services import audit as audit_service

    platform = state.platform
    anchor = state.settings.audit_anchor_path
    # Nothing is sealed on a rewritten chain; the verification below says where it breaks.
    with contextlib.suppress(audit_service.AuditChainBroken):
        audit_service.seal(platform.engine, anchor_path=anchor, anchor_copy=platform.anchor_copy)

    with state.reading() as session:
        report = audit_service.verify(session, anchor_path=anchor, clock=platform.clock)
    if report.ok:
        click.echo(f"journal d'audit intègre : {report.checked} entrées vérifiées")
        return
    click.echo(f"journal d'audit ALTÉRÉ : {len(report.problems)} problème(s)", err=True)
    for problem in report.problems:
        click.echo(f"  - {problem}", err=True)
    sys.exit(1)


# --- keys -----------------------------------------------------------------------------------


@main.group(help="Clés maîtresses de chiffrement (R-52).")
def keys() -> None:
    """Key commands."""


@keys.command("init", help="Crée le fichier de clés maîtresses s'il n'existe pas.")
@click.option("--path", type=click.Path(dir_okay=False), default=None)
@pass_state
@friendly_errors
def keys_init(state: State, path: str | None) -> None:
    from tgd.adapters.crypto import MasterKeyRing

    del state  # the settings would refuse to load in production: the key file is missing
    # Its very job is to create the key file that production otherwise requires.
    settings = load_settings(production_needs=False)
    target = Path(path) if path else settings.master_key_path
    if target.exists():
        raise click.ClickException(f"{target} existe déjà : rien n'est écrasé")
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    MasterKeyRing.generate().save(target)
    click.echo(f"clé maîtresse créée dans {target} (mode 600, hors de git)")


@keys.command("rotate", help="Ajoute une clé maîtresse et ré-enveloppe toutes les clés de données.")
@click.option(
    "--drop-old", is_flag=True, help="Retire les anciennes clés une fois tout ré-enveloppé."
)
@pass_state
@friendly_errors
def keys_rotate(state: State, drop_old: bool) -> None:
    from tgd.services.keys import rotate_master_key

    platform = state.platform
    assert isinstance(platform.cipher, KeyFileCipher)
    done = rotate_master_key(
        platform.sessions,
        platform.cipher,
        drop_old=drop_old,
        actor="system:cli",
        clock=platform.clock,
    )
    click.echo(
        f"{done.rewrapped} clé(s) de données ré-enveloppée(s) ; clé courante : {done.current}"
    )
    if done.dropped:
        click.echo(f"anciennes clés retirées : {', '.join(done.dropped)}")


def _register_capability_commands() -> None:
    # Each capability adds its own commands (tgd/commands/*.py), and so does the gateway
    # door (simulator, canary); the CLI, like tgd/app.py, is an entry point and may know them.
    import importlib

    from handset_gateway.cli import register
    from tgd.commands import MODULES

    register(main)
    for name in MODULES:
        importlib.import_module(f"tgd.commands.{name}").register(main)


_register_capability_commands()


if __name__ == "__main__":  # pragma: no cover
    main()
