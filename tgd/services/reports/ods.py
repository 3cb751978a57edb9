"""The report as an OpenDocument spreadsheet (ODS): a summary sheet, then one sheet per table.

Written through the platform's streamed ODS writer (``tgd.services.documents.ods``),
so that a national half-year of hundreds of thousands of cells stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from tgd.services.documents.ods import (
    BOLD,
    ITALIC,
    SHEET_END,
    TITLE,
    row,
    sheet,
    sheet_name,
    write_spreadsheet,
)
from tgd.services.reports.model import Report
from tgd.services.reports.summary import summary_lines


def write_ods(report: Report, out: IO[bytes]) -> None:
    """Write the report as an ODS package to a binary stream."""
    write_spreadsheet(out, _sheets(report), title=report.title, generated_at=report.generated_at)


def _sheets(report: Report) -> Iterator[str]:
    used: set[str] = set()
    yield sheet(sheet_name("Synthèse", used), 2)
    yield row([report.title], TITLE)
    for label, value in summary_lines(report):
        yield row([label, value])
    yield row([])
    yield row(["Tableaux", "Feuille"], BOLD)
    for table in report.all_tables():
        yield row([table.heading, f"{len(table.rows)} ligne(s)"])
    yield SHEET_END
    for table in report.all_tables():
        base = f"{table.number} {table.title}" if table.number else table.title
        yield sheet(sheet_name(base, used), len(table.columns))
        yield row([table.heading], TITLE)
        yield row([table.description], ITALIC)
        yield row([f"{report.scope.label} — {report.period.label}"], ITALIC)
        yield row([c.title for c in table.columns], BOLD)
        if not table.rows:
            yield row(["Aucune donnée pour la période."], ITALIC)
        for values in table.rows:
            yield row(values)
        yield SHEET_END
