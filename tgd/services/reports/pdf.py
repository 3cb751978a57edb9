"""The narrative report as PDF, laid out with reportlab (platypus), A4 landscape.

Text is set in DejaVu Sans (shipped with matplotlib) so every French
character and typographic sign prints; long tables are cut as in the ODT,
the spreadsheet holding every row.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Image,
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
)

from tgd.services.reports.charts import make_charts
from tgd.services.reports.model import Report, Table
from tgd.services.reports.odt import ANNEX_ROWS, NARRATIVE_ROWS, cell_text
from tgd.services.reports.summary import narrative, summary_lines

FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"


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


def write_pdf(report: Report, out: IO[bytes]) -> None:
    """Write the narrative report as PDF to a binary stream."""
    _register_fonts()
    styles = _styles()
    page = landscape(A4)
    doc = SimpleDocTemplate(
        out,
        pagesize=page,
        leftMargin=1.4 * cm,
        rightMargin=1.4 * cm,
        topMargin=1.4 * cm,
        bottomMargin=1.4 * cm,
        title=report.title,
        author="TGD",
        lang="fr-FR",
    )
    width = page[0] - 2.8 * cm
    story: list[Any] = [Paragraph(escape(report.title), styles["h1"])]
    story += [Paragraph(escape(p), styles["body"]) for p in narrative(report)]
    story.append(Paragraph("Chiffres clés", styles["h2"]))
    story.append(
        _grid(
            ["Indicateur", "Valeur"], [list(x) for x in summary_lines(report)], styles, width * 0.6
        )
    )
    for chart in make_charts(report):
        story.append(Paragraph(escape(chart.title), styles["h2"]))
        image = Image(BytesIO(chart.png))
        ratio = image.imageHeight / image.imageWidth
        image.drawWidth, image.drawHeight = 16 * cm, 16 * cm * ratio
        image.hAlign = "LEFT"
        story += [image, Paragraph(escape(chart.alt), styles["note"])]
    for table in report.all_tables():
        limit = ANNEX_ROWS if table.key.startswith("annexe") else NARRATIVE_ROWS
        story += _section(table, styles, width, limit)
    doc.build(story, onFirstPage=_footer(report), onLaterPages=_footer(report))


def _footer(report: Report) -> Any:
    label = (
        "Document nominatif réservé au parquet"
        if report.is_nominative
        else "Document anonymisé — comité de suivi"
    )

    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawString(1.4 * cm, 0.8 * cm, f"TGD — {label} — {report.period.label}")
        canvas.drawRightString(doc.pagesize[0] - 1.4 * cm, 0.8 * cm, f"page {doc.page}")
        canvas.restoreState()

    return draw


def _section(
    table: Table, styles: dict[str, ParagraphStyle], width: float, limit: int
) -> list[Any]:
    parts: list[Any] = [
        Paragraph(escape(table.heading), styles["h2"]),
        Paragraph(escape(table.description), styles["note"]),
    ]
    if not table.rows:
        parts.append(Paragraph("Aucune donnée pour la période.", styles["body"]))
        return parts
    rows = [[cell_text(v) for v in row] for row in table.rows[:limit]]
    parts.append(_grid([c.title for c in table.columns], rows, styles, width))
    if len(table.rows) > limit:
        parts.append(
            Paragraph(
                f"… {len(table.rows) - limit} ligne(s) de plus dans le classeur ODS.",
                styles["note"],
            )
        )
    parts.append(Spacer(1, 4))
    return parts


def _grid(
    header: list[str], rows: list[list[str]], styles: dict[str, ParagraphStyle], width: float
) -> LongTable:
    columns = max(1, len(header))
    fits = int(width / columns / 3.3)  # characters of 6.5 pt DejaVu in a column, roughly
    data: list[list[Any]] = [[Paragraph(escape(h), styles["head"]) for h in header]]
    # A Paragraph wraps but costs a hundred times a plain string: only for long texts.
    data += [
        [Paragraph(escape(v), styles["cell"]) if len(v) > fits else v for v in row] for row in rows
    ]
    table = LongTable(data, colWidths=[width / columns] * columns, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#888888")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e3e3fd")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("FONTNAME", (0, 1), (-1, -1), FONT),
            ("FONTSIZE", (0, 1), (-1, -1), 6.5),
            ("LEADING", (0, 1), (-1, -1), 8),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ]
    )
    return table
