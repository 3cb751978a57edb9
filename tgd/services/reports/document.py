"""The narrative report (ODT and PDF), described once as blocks, A4 landscape, charts as PNG.

The narrative carries the headline figures, the charts and every table; a
long table is cut after ``NARRATIVE_ROWS`` rows (``ANNEX_ROWS`` for the
parquet's annex) with a note pointing to the spreadsheet, which holds every
row: the text writers build the whole document in memory, fine for a few
thousand cells. The ODT and the PDF are written from the same description by
the platform's writers (``tgd.services.documents.odt`` and ``.pdf``).
"""

from __future__ import annotations

from typing import IO

from tgd.services.documents import odt, pdf
from tgd.services.documents.model import Block, Document, Grid, Heading, Note, Paragraph, Picture
from tgd.services.reports.charts import make_charts
from tgd.services.reports.model import Cell, Report, Table
from tgd.services.reports.summary import narrative, summary_lines

NARRATIVE_ROWS = 200
ANNEX_ROWS = 5000


def cell_text(value: Cell) -> str:
    """Return a cell as French text (decimal comma)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    return str(value)


def narrative_document(report: Report) -> Document:
    """Describe the narrative report: title, paragraphs, headline figures, charts, tables."""
    blocks: list[Block] = [Heading(report.title, level=1)]
    blocks += [Paragraph(p) for p in narrative(report)]
    blocks += [
        Heading("Chiffres clés"),
        Grid(["Indicateur", "Valeur"], [list(x) for x in summary_lines(report)], width=0.6),
    ]
    for chart in make_charts(report):
        blocks += [Heading(chart.title), Picture(chart.png, chart.alt)]
    for table in report.all_tables():
        limit = ANNEX_ROWS if table.key.startswith("annexe") else NARRATIVE_ROWS
        blocks += _section(table, limit)
    label = (
        "Document nominatif réservé au parquet"
        if report.is_nominative
        else "Document anonymisé — comité de suivi"
    )
    return Document(
        title=report.title,
        blocks=blocks,
        landscape=True,
        author="TGD",
        footer=f"TGD — {label} — {report.period.label}",
    )


def write_odt(report: Report, out: IO[bytes]) -> None:
    """Write the narrative report as ODT to a binary stream."""
    odt.write_document(out, narrative_document(report))


def write_pdf(report: Report, out: IO[bytes]) -> None:
    """Write the narrative report as PDF to a binary stream."""
    pdf.write_document(out, narrative_document(report))


def _section(table: Table, limit: int) -> list[Block]:
    blocks: list[Block] = [Heading(table.heading), Note(table.description)]
    if not table.rows:
        return [*blocks, Paragraph("Aucune donnée pour la période.")]
    rows = [[cell_text(v) for v in row] for row in table.rows[:limit]]
    blocks.append(Grid([c.title for c in table.columns], rows))
    if len(table.rows) > limit:
        blocks.append(Note(f"… {len(table.rows) - limit} ligne(s) de plus dans le classeur ODS."))
    return blocks
