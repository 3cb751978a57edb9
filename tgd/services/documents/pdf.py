"""PDF documents, laid out with reportlab (platypus): the one PDF writer of the platform.

The file export at closure and the committee report both write through it,
from the same blocks (``tgd.services.documents.model``) their ODT is written
from. Text is set in DejaVu Sans, shipped with matplotlib: reportlab's
built-in Helvetica covers only the 8-bit WinAnsi set, so a sign outside it
(the narrow no-break space French puts before « ; », an arrow, a name from
overseas) does not print; DejaVu prints every French character and
typographic sign. The page is A4, portrait or landscape; the metadata says French
(``/Lang fr-FR``), which screen readers use to pick their voice.

Long data tables are ``LongTable`` with the header row repeated on each page,
and a cell becomes a wrapping ``Paragraph`` only when its text is too long
for its column: a Paragraph costs a hundred times a plain string, which
counts in a report of thousands of rows.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import IO, Any, assert_never
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, LongTable, SimpleDocTemplate, Spacer, Table
from reportlab.platypus import Paragraph as Text

from tgd.services.documents.model import (
    Block,
    Document,
    Grid,
    Heading,
    Note,
    Pairs,
    Paragraph,
    Picture,
)

FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
MARGIN = 1.4 * cm
LABEL_SHARE = 0.4  # of a label/value table's width, for the labels
HEADER_BLUE = colors.HexColor("#e3e3fd")


def write_document(out: IO[bytes], document: Document) -> None:
    """Write the document as PDF to a binary stream."""
    _register_fonts()
    styles = _styles()
    page = landscape(A4) if document.landscape else A4
    template = SimpleDocTemplate(
        out,
        pagesize=page,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=document.title,
        author=document.author,
        lang="fr-FR",
    )
    width = page[0] - 2 * MARGIN
    story: list[Any] = []
    for block in document.blocks:
        story += _flowables(block, styles, width)
    footer = _footer(document.footer)
    template.build(story, onFirstPage=footer, onLaterPages=footer)


def _register_fonts() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(fonts / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(fonts / "DejaVuSans-Bold.ttf")))


def _styles() -> dict[str, ParagraphStyle]:
    return {
        "h1": ParagraphStyle("h1", fontName=FONT_BOLD, fontSize=16, leading=20, spaceAfter=8),
        "h2": ParagraphStyle(
            "h2", fontName=FONT_BOLD, fontSize=12, leading=15, spaceBefore=10, spaceAfter=4
        ),
        "body": ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=12.5, spaceAfter=5),
        "label": ParagraphStyle("label", fontName=FONT_BOLD, fontSize=9.5, leading=12.5),
        "value": ParagraphStyle("value", fontName=FONT, fontSize=9.5, leading=12.5),
        "note": ParagraphStyle(
            "note",
            fontName=FONT,
            fontSize=8,
            leading=10,
            textColor=colors.HexColor("#555555"),
            spaceAfter=4,
        ),
        "cell": ParagraphStyle("cell", fontName=FONT, fontSize=6.5, leading=8),
        "head": ParagraphStyle("head", fontName=FONT_BOLD, fontSize=6.5, leading=8),
    }


def _flowables(block: Block, styles: dict[str, ParagraphStyle], width: float) -> list[Any]:
    match block:
        case Heading():
            return [Text(escape(block.text), styles["h1" if block.level == 1 else "h2"])]
        case Paragraph():
            return [Text(escape(block.text), styles["body"])]
        case Note():
            return [Text(escape(block.text), styles["note"])]
        case Pairs():
            return [_pairs(block, styles, width), Spacer(1, 4)]
        case Grid():
            return [_grid(block, styles, width * block.width), Spacer(1, 4)]
        case Picture():
            image = Image(BytesIO(block.png))
            image.drawWidth, image.drawHeight = block.width_cm * cm, block.height_cm * cm
            image.hAlign = "LEFT"
            return [image, Text(escape(block.caption), styles["note"])]
        case _:
            assert_never(block)


def _footer(text: str) -> Callable[[Any, Any], None]:
    def draw(canvas: Any, doc: Any) -> None:
        if not text:
            return
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawString(MARGIN, 0.8 * cm, text)
        canvas.drawRightString(doc.pagesize[0] - MARGIN, 0.8 * cm, f"page {doc.page}")
        canvas.restoreState()

    return draw


def _pairs(block: Pairs, styles: dict[str, ParagraphStyle], width: float) -> Table:
    data = [
        [Text(escape(label), styles["label"]), Text(escape(value), styles["value"])]
        for label, value in block.rows
    ]
    table = Table(data, colWidths=[width * LABEL_SHARE, width * (1 - LABEL_SHARE)], hAlign="LEFT")
    table.setStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#888888")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    return table


def _grid(block: Grid, styles: dict[str, ParagraphStyle], width: float) -> LongTable:
    columns = max(1, len(block.header))
    fits = int(width / columns / 3.3)  # characters of 6.5 pt DejaVu in a column, roughly
    data: list[list[Any]] = [[Text(escape(h), styles["head"]) for h in block.header]]
    data += [
        [Text(escape(v), styles["cell"]) if len(v) > fits else v for v in row] for row in block.rows
    ]
    table = LongTable(data, colWidths=[width / columns] * columns, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#888888")),
            ("BACKGROUND", (0, 0), (-1, 0), HEADER_BLUE),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("FONTNAME", (0, 1), (-1, -1), FONT),
            ("FONTSIZE", (0, 1), (-1, -1), 6.5),
            ("LEADING", (0, 1), (-1, -1), 8),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ]
    )
    return table
