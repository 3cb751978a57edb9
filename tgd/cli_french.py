"""The ``tgd`` command in French: one style for every error, and Click's own words translated.

Click writes its usage errors in English after an ``Error:`` prefix and lets an
unexpected exception end in a Python traceback. ``FrenchGroup`` is the class of
the ``tgd`` group and of every group and command under it: it answers every
failure on standard error in French, in one style (``Erreur : …``), with the
exit code the README promises: 2 for a usage or configuration error, 1 for a
refused operation or any other failure. Click's messages are rebuilt from its
exceptions' fields (option, parameter, possibilities) or, for the messages its
types build, translated by the table ``CLICK_MESSAGES``; a message Click adds
later and this table does not know is shown as Click wrote it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click
from alembic.util.exc import CommandError as AlembicCommandError
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, ProgrammingError

from tgd.adapters.crypto import CryptoError
from tgd.adapters.fake_twilio.carrier import PlatformUnreachable
from tgd.domain.errors import DomainError
from tgd.settings import SettingsError

USAGE_EXIT, FAILURE_EXIT = 2, 1
HELP_TEXT = "Affiche cette aide et quitte."

# Click's English messages (click 8.x) and their French translation.
_TYPES = {
    "integer": "un nombre entier",
    "float": "un nombre",
    "UUID": "un identifiant UUID",
    "boolean": "un booléen (true ou false)",
}
CLICK_MESSAGES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"'(?P<v>.*)' is not a valid (?P<t>integer|float|UUID|boolean)\.", re.S),
        lambda m: f"« {m['v']} » n'est pas {_TYPES[m['t']]}",
    ),
    (
        re.compile(r"(?P<v>.+) is not in the range (?P<r>.+)\.", re.S),
        lambda m: f"{m['v']} n'est pas dans l'intervalle {m['r']}",
    ),
    (
        re.compile(r"'(?P<v>.*)' is not one of (?P<c>.+)\.", re.S),
        lambda m: f"« {m['v']} » n'est pas l'une des valeurs {m['c']}",
    ),
    (
        re.compile(r"'(?P<v>.*)' is not (?P<c>'.+')\.", re.S),
        lambda m: f"« {m['v']} » n'est pas {m['c']}",
    ),
    (
        re.compile(r"'(?P<v>.*)' does not match the formats? (?P<f>.+)\.", re.S),
        lambda m: f"« {m['v']} » ne suit pas le format attendu ({m['f']})",
    ),
    (
        re.compile(r"Option '(?P<n>[^']+)' requires an argument\."),
        lambda m: f"l'option {m['n']} attend une valeur",
    ),
    (
        re.compile(r"Option '(?P<n>[^']+)' requires (?P<k>\d+) arguments\."),
        lambda m: f"l'option {m['n']} attend {m['k']} valeurs",
    ),
    (
        re.compile(r"Option '(?P<n>[^']+)' does not take a value\."),
        lambda m: f"l'option {m['n']} ne prend pas de valeur",
    ),
    (
        re.compile(r"Argument '(?P<n>[^']+)' takes (?P<k>\d+) values\."),
        lambda m: f"l'argument {m['n']} attend {m['k']} valeurs",
    ),
    (
        re.compile(r"Got unexpected extra arguments? \((?P<a>.*)\)", re.S),
        lambda m: f"argument en trop : {m['a']}",
    ),
    (re.compile(r"Missing command\."), lambda m: "commande manquante"),
    (
        re.compile(r"No such command '(?P<n>[^']+)'\."),
        lambda m: f"commande inconnue : {m['n']}",
    ),
    (
        re.compile(r"No such option '(?P<n>[^']+)'\."),
        lambda m: f"option inconnue : {m['n']}",
    ),
    (
        re.compile(r"(?:File|Directory|Path) '(?P<f>.*)' does not exist\.", re.S),
        lambda m: f"« {m['f']} » n'existe pas",
    ),
    (
        re.compile(r"(?:File|Directory|Path) '(?P<f>.*)' is a directory\.", re.S),
        lambda m: f"« {m['f']} » est un dossier",
    ),
    (
        re.compile(r"(?:File|Directory|Path) '(?P<f>.*)' is a file\.", re.S),
        lambda m: f"« {m['f']} » est un fichier",
    ),
    (
        re.compile(r"(?:File|Directory|Path) '(?P<f>.*)' is not (?P<w>readable|writable)\.", re.S),
        lambda m: (
            f"« {m['f']} » n'est pas accessible en "
            + ("lecture" if m["w"] == "readable" else "écriture")
        ),
    ),
]


def translate(message: str) -> str:
    """Return Click's English message in French (unchanged when unknown: already ours)."""
    for pattern, french in CLICK_MESSAGES:
        found = pattern.fullmatch(message.strip())
        if found:
            return french(found)
    return message


def _hint(exc: click.BadParameter) -> str:
    hint: str | Sequence[str] | None = exc.param_hint
    if hint is None and exc.param is not None:
        hint = exc.param.get_error_hint(exc.ctx) if exc.ctx is not None else exc.param.name
    if hint is None:
        return ""
    names = [hint] if isinstance(hint, str) else list(hint)
    return " / ".join(n.strip("'\"") for n in names)


def _maybe(possibilities: Sequence[str] | None) -> str:
    return f" (vouliez-vous dire {', '.join(possibilities)} ?)" if possibilities else ""


def usage_message(exc: click.UsageError) -> str:
    """Say in French what is wrong with the command line."""
    if isinstance(exc, click.NoSuchOption):
        return f"option inconnue : {exc.option_name}{_maybe(exc.possibilities)}"
    command_name = getattr(exc, "command_name", None)  # click >= 8.4: NoSuchCommand
    if command_name is not None:
        return f"commande inconnue : {command_name}{_maybe(getattr(exc, 'possibilities', None))}"
    if isinstance(exc, click.MissingParameter):
        kind = exc.param_type or (exc.param.param_type_name if exc.param else "parameter")
        what = {"option": "option obligatoire manquante", "argument": "argument manquant"}.get(
            kind, "paramètre manquant"
        )
        return f"{what} : {_hint(exc)}"
    if isinstance(exc, click.BadParameter):
        where = _hint(exc)
        reason = translate(exc.message)
        return (
            f"valeur invalide pour {where} : {reason}" if where else f"valeur invalide : {reason}"
        )
    return translate(exc.message)


def fail(message: str, *, code: int = FAILURE_EXIT, prefix: str = "Erreur") -> NoReturn:
    """Print a French error on standard error and exit with ``code``."""
    click.echo(f"{prefix} : {message}", err=True)
    sys.exit(code)


def exit_for(exc: BaseException) -> None:
    """Answer an expected failure in French and exit; return when it is not one of ours."""
    if isinstance(exc, SettingsError):
        fail(str(exc), code=USAGE_EXIT, prefix="Erreur de configuration")
    if isinstance(exc, (NoSuchModuleError, ArgumentError)):
        # A database URL the checks let through but SQLAlchemy cannot use.
        fail(
            "l'adresse de la base de données (database_url) n'est pas utilisable",
            code=USAGE_EXIT,
            prefix="Erreur de configuration",
        )
    if isinstance(exc, DomainError):
        fail(exc.message)
    if isinstance(exc, PlatformUnreachable):
        fail(f"la plateforme ne répond pas à {exc.url} : est-elle lancée (tgd run) ?")
    if isinstance(exc, AlembicCommandError):
        fail("migration refusée par Alembic (voir « tgd db current »)", code=USAGE_EXIT)
    if isinstance(exc, CryptoError):
        fail(str(exc), prefix="Erreur de chiffrement")
    if isinstance(exc, (OperationalError, ProgrammingError)):
        reason = str(exc.orig) if exc.orig is not None else type(exc).__name__
        fail(
            f"{reason} (la base est-elle joignable et migrée ? « tgd db upgrade »)",
            prefix="Erreur de base de données",
        )
    return None


class FrenchCommand(click.Command):
    """A ``tgd`` command whose usage line and help option speak French."""

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the usage line with a French prefix."""
        pieces = self.collect_usage_pieces(ctx)
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix="Utilisation : ")

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        """Return the help option, described in French."""
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_TEXT
        return option


class FrenchGroup(FrenchCommand, click.Group):
    """The ``tgd`` group: French help and errors for itself and every command under it."""

    command_class = FrenchCommand
    group_class = type  # sub-groups are FrenchGroups too

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the sub-commands under a French heading."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commandes"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; an expected failure is answered in French, never a traceback."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            exit_for(exc)
            if ctx.find_root().params.get("trace"):
                raise
            fail(
                f"erreur inattendue ({type(exc).__name__}) ; relancez avec « tgd --trace … » "
                "pour la trace complète"
            )

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; every error ends with a French message and exit 1 or 2."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            if exc.ctx is not None:  # whatever the command's class, the usage line in French
                ctx, path = exc.ctx, exc.ctx.command_path
                pieces = " ".join(ctx.command.collect_usage_pieces(ctx))
                click.echo(f"Utilisation : {path} {pieces}\nAide : {path} --help\n", err=True)
            fail(usage_message(exc), code=USAGE_EXIT)
        except click.ClickException as exc:  # raised by our commands: already French
            fail(translate(exc.format_message()), code=exc.exit_code or FAILURE_EXIT)
        except click.Abort:
            fail("abandon", code=FAILURE_EXIT)
        except Exception as exc:  # before any command ran (building the context)
            exit_for(exc)
            fail(f"erreur inattendue ({type(exc).__name__})")
        sys.exit(result if isinstance(result, int) else 0)
