"""Statements built once whose parameters carry a prefix, to be composed into one.

A statement that writes several tables at once (data-modifying CTEs on PostgreSQL:
``tgd.services.alert_rows``) binds each table's values under names of its own:
``a_call_sid`` for the alert, ``l_call_sid`` for its leg. Each module that owns a table
still says what its insert is (``audit.insert_statement``, ``events.insert_statement``…).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Table, bindparam


def prefixed_values(table: Table, prefix: str, columns: tuple[str, ...]) -> dict[str, Any]:
    """Bind parameters ``<prefix><column>`` for ``columns`` of ``table``, typed as they are."""
    return {name: bindparam(prefix + name, type_=table.c[name].type) for name in columns}


def prefixed_insert(table: Table, prefix: str, columns: tuple[str, ...]) -> Insert:
    """An INSERT of ``columns`` into ``table`` taking ``<prefix><column>`` parameters."""
    return table.insert().values(prefixed_values(table, prefix, columns))
