"""The narrative report as an OpenDocument text (ODT), written with odfpy, charts as PNG.

The narrative carries the headline figures, the charts and every table; a
long table is cut after ``NARRATIVE_ROWS`` rows with a note pointing to the
spreadsheet, which holds every row (odfpy builds the whole document in
memory, fine for a few thousand cells).
"""

from __future__ import annotations

from typing import IO, Any

from odf.draw import Frame, Image
from odf.opendocument import OpenDocumentText
from odf.style import (
    GraphicProperties,
    MasterPage,
    PageLayout,
    PageLayoutProperties,
    ParagraphProperties,
    Style,
    TableCellProperties,
    TableProperties,
    TextProperties,
)
from odf.table import Table as OdfTable
from odf.table import TableCell, TableColumn, TableHeaderRows, TableRow
from odf.text import H, P

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


class _Styles:
    def __init__(self, doc: OpenDocumentText) -> None:
        layout = PageLayout(name="Paysage")
        layout.addElement(
            PageLayoutProperties(
                pagewidth="29.7cm",
                pageheight="21cm",
                printorientation="landscape",
                margin="1.5cm",
            )
        )
        doc.automaticstyles.addElement(layout)
        doc.masterstyles.addElement(MasterPage(name="Standard", pagelayoutname=layout))
        self.h1 = self._paragraph(doc, "Titre", "18pt", bold=True)
        self.h2 = self._paragraph(doc, "Titre2", "13pt", bold=True)
        self.body = self._paragraph(doc, "Corps", "10pt")
        self.note = self._paragraph(doc, "Note", "9pt", italic=True)
        self.small = self._paragraph(doc, "Cellule", "7.5pt")
        self.small_bold = self._paragraph(doc, "Entete", "7.5pt", bold=True)
        self.table = Style(name="Tableau", family="table")
        self.table.addElement(TableProperties(width="26.5cm", align="left"))
        doc.automaticstyles.addElement(self.table)
        self.cell = Style(name="Case", family="table-cell")
        self.cell.addElement(TableCellProperties(border="0.5pt solid #666666", padding="0.04cm"))
        doc.automaticstyles.addElement(self.cell)
        self.header = Style(name="CaseEntete", family="table-cell")
        self.header.addElement(
            TableCellProperties(
                border="0.5pt solid #666666", padding="0.04cm", backgroundcolor="#e3e3fd"
            )
        )
        doc.automaticstyles.addElement(self.header)
        self.frame = Style(name="Image", family="graphic")
        self.frame.addElement(GraphicProperties(wrap="none", verticalpos="top"))
        doc.automaticstyles.addElement(self.frame)

    @staticmethod
    def _paragraph(
        doc: OpenDocumentText, name: str, size: str, *, bold: bool = False, italic: bool = False
    ) -> Style:
        style = Style(name=name, family="paragraph")
        style.addElement(
            TextProperties(
                fontsize=size,
                fontweight="bold" if bold else "normal",
                fontstyle="italic" if italic else "normal",
                language="fr",
                country="FR",
            )
        )
        style.addElement(ParagraphProperties(marginbottom="0.15cm"))
        doc.styles.addElement(style)
        return style


def write_odt(report: Report, out: IO[bytes]) -> None:
    """Write the narrative report as ODT to a binary stream."""
    doc = OpenDocumentText()
    styles = _Styles(doc)
    body = doc.text
    body.addElement(H(outlinelevel=1, stylename=styles.h1, text=report.title))
    for paragraph in narrative(report):
        body.addElement(P(stylename=styles.body, text=paragraph))
    body.addElement(H(outlinelevel=2, stylename=styles.h2, text="Chiffres clés"))
    _table(body, styles, ["Indicateur", "Valeur"], [[k, v] for k, v in summary_lines(report)])
    for index, chart in enumerate(make_charts(report), start=1):
        body.addElement(H(outlinelevel=2, stylename=styles.h2, text=chart.title))
        href = doc.addPicture(f"Pictures/graphique{index}.png", "image/png", chart.png)
        frame = Frame(
            stylename=styles.frame,
            width="16cm",
            height="7.5cm",
            anchortype="as-char",
            name=f"graphique{index}",
        )
        frame.addElement(Image(href=href))
        holder = P(stylename=styles.body)
        holder.addElement(frame)
        body.addElement(holder)
        body.addElement(P(stylename=styles.note, text=chart.alt))
    for table in report.all_tables():
        limit = ANNEX_ROWS if table.key.startswith("annexe") else NARRATIVE_ROWS
        _section(body, styles, table, limit)
    doc.write(out)


def _section(body: Any, styles: _Styles, table: Table, limit: int) -> None:
    body.addElement(H(outlinelevel=2, stylename=styles.h2, text=table.heading))
    body.addElement(P(stylename=styles.note, text=table.description))
    if not table.rows:
        body.addElement(P(stylename=styles.body, text="Aucune donnée pour la période."))
        return
    rows = [[cell_text(v) for v in row] for row in table.rows[:limit]]
    _table(body, styles, [c.title for c in table.columns], rows)
    if len(table.rows) > limit:
        body.addElement(
            P(
                stylename=styles.note,
                text=f"… {len(table.rows) - limit} ligne(s) de plus dans le classeur ODS.",
            )
        )


def _table(body: Any, styles: _Styles, header: list[str], rows: list[list[str]]) -> None:
    table = OdfTable(stylename=styles.table)
    table.addElement(TableColumn(numbercolumnsrepeated=max(1, len(header))))
    head = TableHeaderRows()
    head_row = TableRow()
    for title in header:
        cell = TableCell(stylename=styles.header, valuetype="string")
        cell.addElement(P(stylename=styles.small_bold, text=title))
        head_row.addElement(cell)
    head.addElement(head_row)
    table.addElement(head)
    for values in rows:
        row = TableRow()
        for value in values:
            cell = TableCell(stylename=styles.cell, valuetype="string")
            cell.addElement(P(stylename=styles.small, text=value))
            row.addElement(cell)
        table.addElement(row)
    body.addElement(table)
