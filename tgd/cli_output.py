"""How ``tgd`` commands print: JSON for scripts, one line a row for people.

A listing takes the ``--json`` flag (``json_option``) and prints its rows with
``echo_rows``: an indented JSON array, or its own line for each row. A command that
changes something prints its result as one compact JSON object (``echo_json``). JSON
keeps accents as they are: the output is UTF-8, read by people as well as scripts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TypeVar

import click

T = TypeVar("T")

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Tableau JSON sur la sortie standard."
)


def echo_json(data: object, *, indent: int | None = None) -> None:
    """Print ``data`` as JSON (compact unless ``indent``)."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=indent))


def echo_rows(
    rows: Sequence[T],
    *,
    as_json: bool,
    line: Callable[[T], str],
    json_of: Callable[[T], object] | None = None,
) -> None:
    """Print a listing: an indented JSON array (``json_of`` each row) or ``line`` each row."""
    if as_json:
        echo_json([json_of(r) for r in rows] if json_of else list(rows), indent=2)
        return
    for row in rows:
        click.echo(line(row))
