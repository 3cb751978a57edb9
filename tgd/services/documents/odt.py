"""OpenDocument texts (ODT), written with odfpy: the one ODT writer of the platform.

The file export at closure and the committee report both write through it: each
describes its document once as blocks (``tgd.services.documents.model``) and
gets the ODT here and the PDF from ``tgd.services.documents.pdf``, so the two
formats hold the same texts in the same order. odfpy builds the whole document
in memory, which suits a text of a few thousand cells (the report cuts its long
tables; the streamed ODS writer is for the hundreds of thousands). The page is
A4, portrait or landscape; every paragraph style says French (``fo:language``)
and so does the metadata, so a word processor checks the spelling in French.
"""

from __future__ import annotations

from typing import IO, Any, assert_never

from odf import dc
from odf import meta as odf_meta
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
    TableColumnProperties,
    TableProperties,
    TextProperties,
)
from odf.table import Table, TableCell, TableColumn, TableHeaderRows, TableRow
from odf.text import H, P

from tgd.services.documents.model import (
    Document,
    Grid,
    Heading,
    Note,
    Pairs,
    Paragraph,
    Picture,
)

A4_CM = (21.0, 29.7)
MARGIN_CM = 1.5
LABEL_SHARE = 0.4  # of a label/value table's width, for the labels


def write_document(out: IO[bytes], document: Document) -> None:
    """Write the document as an ODT package to a binary stream."""
    odt = OpenDocumentText()
    odt.meta.addElement(dc.Title(text=document.title))
    odt.meta.addElement(dc.Language(text="fr-FR"))
    odt.meta.addElement(odf_meta.InitialCreator(text=document.author))
    styles = _Styles(odt, landscape=document.landscape)
    body = odt.text
    pictures = 0
    for block in document.blocks:
        match block:
            case Heading():
                style = styles.h1 if block.level == 1 else styles.h2
                body.addElement(H(outlinelevel=block.level, stylename=style, text=block.text))
            case Paragraph():
                body.addElement(P(stylename=styles.body, text=block.text))
            case Note():
                body.addElement(P(stylename=styles.note, text=block.text))
            case Pairs():
                body.addElement(_pairs(styles, block))
            case Grid():
                body.addElement(_grid(styles, block))
            case Picture():
                pictures += 1
                _picture(odt, styles, block, pictures)
            case _:
                assert_never(block)
    odt.write(out)


class _Styles:
    """The page layout and the named styles every block uses."""

    def __init__(self, odt: OpenDocumentText, *, landscape: bool) -> None:
        self._odt = odt
        width, height = (A4_CM[1], A4_CM[0]) if landscape else A4_CM
        self.text_width = width - 2 * MARGIN_CM
        layout = PageLayout(name="Page")
        layout.addElement(
            PageLayoutProperties(
                pagewidth=f"{width}cm",
                pageheight=f"{height}cm",
                printorientation="landscape" if landscape else "portrait",
                margin=f"{MARGIN_CM}cm",
            )
        )
        odt.automaticstyles.addElement(layout)
        odt.masterstyles.addElement(MasterPage(name="Standard", pagelayoutname=layout))
        self.h1 = self._paragraph("Titre", "18pt", bold=True)
        self.h2 = self._paragraph("Titre2", "13pt", bold=True)
        self.body = self._paragraph("Corps", "10pt")
        self.label = self._paragraph("CorpsGras", "10pt", bold=True)
        self.note = self._paragraph("Note", "9pt", italic=True)
        self.small = self._paragraph("Cellule", "7.5pt")
        self.small_bold = self._paragraph("Entete", "7.5pt", bold=True)
        self.cell = self._automatic(
            "Case",
            "table-cell",
            TableCellProperties(border="0.5pt solid #666666", padding="0.04cm"),
        )
        self.header = self._automatic(
            "CaseEntete",
            "table-cell",
            TableCellProperties(
                border="0.5pt solid #666666", padding="0.04cm", backgroundcolor="#e3e3fd"
            ),
        )
        self.label_column = self._column("ColonneLibelle", LABEL_SHARE)
        self.value_column = self._column("ColonneValeur", 1 - LABEL_SHARE)
        self.frame = self._automatic(
            "Image", "graphic", GraphicProperties(wrap="none", verticalpos="top")
        )
        self._tables: dict[float, Style] = {}

    def table(self, share: float) -> Style:
        """Return the style of a left-aligned table ``share`` of the text width wide."""
        if share not in self._tables:
            self._tables[share] = self._automatic(
                f"Tableau{len(self._tables) + 1}",
                "table",
                TableProperties(width=f"{self.text_width * share:.2f}cm", align="left"),
            )
        return self._tables[share]

    def _column(self, name: str, share: float) -> Style:
        return self._automatic(
            name,
            "table-column",
            TableColumnProperties(columnwidth=f"{self.text_width * share:.2f}cm"),
        )

    def _automatic(self, name: str, family: str, properties: Any) -> Style:
        style = Style(name=name, family=family)
        style.addElement(properties)
        self._odt.automaticstyles.addElement(style)
        return style

    def _paragraph(
        self, name: str, size: str, *, bold: bool = False, italic: bool = False
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
        self._odt.styles.addElement(style)
        return style


def _pairs(styles: _Styles, block: Pairs) -> Any:
    table = Table(stylename=styles.table(1.0))
    table.addElement(TableColumn(stylename=styles.label_column))
    table.addElement(TableColumn(stylename=styles.value_column))
    for label, value in block.rows:
        row = TableRow()
        for text, style in ((label, styles.label), (value, styles.body)):
            cell = TableCell(stylename=styles.cell, valuetype="string")
            cell.addElement(P(stylename=style, text=text))
            row.addElement(cell)
        table.addElement(row)
    return table


def _grid(styles: _Styles, block: Grid) -> Any:
    table = Table(stylename=styles.table(block.width))
    table.addElement(TableColumn(numbercolumnsrepeated=max(1, len(block.header))))
    head = TableHeaderRows()
    head_row = TableRow()
    for title in block.header:
        cell = TableCell(stylename=styles.header, valuetype="string")
        cell.addElement(P(stylename=styles.small_bold, text=title))
        head_row.addElement(cell)
    head.addElement(head_row)
    table.addElement(head)
    for values in block.rows:
        row = TableRow()
        for value in values:
            cell = TableCell(stylename=styles.cell, valuetype="string")
            cell.addElement(P(stylename=styles.small, text=value))
            row.addElement(cell)
        table.addElement(row)
    return table


def _picture(odt: OpenDocumentText, styles: _Styles, block: Picture, number: int) -> None:
    href = odt.addPicture(f"Pictures/image{number}.png", "image/png", block.png)
    frame = Frame(
        stylename=styles.frame,
        width=f"{block.width_cm:.2f}cm",
        height=f"{block.height_cm:.2f}cm",
        anchortype="as-char",
        name=f"image{number}",
    )
    frame.addElement(Image(href=href))
    holder = P(stylename=styles.body)
    holder.addElement(frame)
    odt.text.addElement(holder)
    odt.text.addElement(P(stylename=styles.note, text=block.caption))
