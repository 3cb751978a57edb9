"""The report as an OpenDocument spreadsheet (ODS): a summary sheet, then one sheet per table.

The ODF package is written as a stream (``zipfile`` and escaped XML), not
with odfpy's in-memory DOM: a national half-year holds hundreds of thousands
of cells, which odfpy needs minutes and a gigabyte to serialise (measured
in ``bench/reports.py``). The package follows ODF 1.2 (uncompressed
``mimetype`` first, manifest, content, styles, meta); LibreOffice opens it
(tested with ``libreoffice --headless --convert-to pdf``).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from typing import IO
from xml.sax.saxutils import escape, quoteattr

from tgd.services.reports.model import Cell, Report, Table
from tgd.services.reports.summary import summary_lines

MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:0.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'office:version="1.2"'
)
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SHEET_FORBIDDEN = re.compile(r"[\[\]*?:/\\']")


def write_ods(report: Report, out: IO[bytes]) -> None:
    """Write the report as an ODS package to a binary stream."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
        package.writestr("META-INF/manifest.xml", _manifest())
        package.writestr("styles.xml", _styles())
        package.writestr("meta.xml", _meta(report))
        with package.open("content.xml", "w", force_zip64=True) as content:
            batch: list[str] = []
            for chunk in _content(report):
                batch.append(chunk)
                if len(batch) >= 2000:  # one write per 2 000 rows, not per row
                    content.write(_INVALID_XML.sub("", "".join(batch)).encode("utf-8"))
                    batch.clear()
            content.write(_INVALID_XML.sub("", "".join(batch)).encode("utf-8"))


def _text(value: str) -> str:
    # Control characters are removed once per written chunk (see _content's caller).
    if "&" in value or "<" in value or ">" in value:
        return escape(value)
    return value


def _attr(value: str) -> str:
    return quoteattr(_INVALID_XML.sub("", value))


def sheet_name(table: Table, used: set[str]) -> str:
    """Return a unique sheet name (31 characters at most, no forbidden character)."""
    base = _SHEET_FORBIDDEN.sub(
        " ", f"{table.number} {table.title}" if table.number else table.title
    )
    name = base[:31].strip()
    counter = 2
    while name in used:
        suffix = f" ({counter})"
        name = base[: 31 - len(suffix)].strip() + suffix
        counter += 1
    used.add(name)
    return name


def _cell(value: Cell, style: str = "") -> str:
    style_attr = f' table:style-name="{style}"' if style else ""
    if value is None or value == "":
        return f"<table:table-cell{style_attr}/>"
    if isinstance(value, bool):
        value = "oui" if value else "non"
    if isinstance(value, int | float):
        shown = f"{value}".replace(".", ",") if isinstance(value, float) else f"{value}"
        return (
            f'<table:table-cell{style_attr} office:value-type="float" office:value="{value}">'
            f"<text:p>{shown}</text:p></table:table-cell>"
        )
    return (
        f'<table:table-cell{style_attr} office:value-type="string">'
        f"<text:p>{_text(str(value))}</text:p></table:table-cell>"
    )


def _row(values: list[Cell], style: str = "") -> str:
    return "<table:table-row>" + "".join(_cell(v, style) for v in values) + "</table:table-row>"


def _content(report: Report) -> Iterator[str]:
    yield f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {NS}>'
    yield (
        "<office:automatic-styles>"
        '<style:style style:name="co1" style:family="table-column">'
        '<style:table-column-properties style:column-width="4.5cm"/></style:style>'
        '<style:style style:name="ce1" style:family="table-cell">'
        '<style:text-properties fo:font-weight="bold"/></style:style>'
        '<style:style style:name="ce2" style:family="table-cell">'
        '<style:text-properties fo:font-weight="bold" fo:font-size="13pt"/></style:style>'
        '<style:style style:name="ce3" style:family="table-cell">'
        '<style:text-properties fo:font-style="italic"/></style:style>'
        "</office:automatic-styles><office:body><office:spreadsheet>"
    )
    used: set[str] = set()
    yield f"<table:table table:name={_attr('Synthèse')}>"
    used.add("Synthèse")
    yield '<table:table-column table:style-name="co1" table:number-columns-repeated="2"/>'
    yield _row([report.title], "ce2")
    for label, value in summary_lines(report):
        yield _row([label, value])
    yield _row([])
    yield _row(["Tableaux", "Feuille"], "ce1")
    for table in report.all_tables():
        yield _row([table.heading, f"{len(table.rows)} ligne(s)"])
    yield "</table:table>"
    for table in report.all_tables():
        yield f"<table:table table:name={_attr(sheet_name(table, used))}>"
        yield (
            '<table:table-column table:style-name="co1" '
            f'table:number-columns-repeated="{max(1, len(table.columns))}"/>'
        )
        yield _row([table.heading], "ce2")
        yield _row([table.description], "ce3")
        yield _row([f"{report.scope.label} — {report.period.label}"], "ce3")
        yield _row([c.title for c in table.columns], "ce1")
        if not table.rows:
            yield _row(["Aucune donnée pour la période."], "ce3")
        for values in table.rows:
            yield _row(values)
        yield "</table:table>"
    yield "</office:spreadsheet></office:body></office:document-content>"


def _manifest() -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{MIMETYPE}" '
        'manifest:version="1.2"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>'
        '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )


def _styles() -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-styles {NS}>'
        "<office:styles>"
        '<style:default-style style:family="table-cell">'
        '<style:text-properties fo:language="fr" fo:country="FR"/></style:default-style>'
        "</office:styles></office:document-styles>"
    )


def _meta(report: Report) -> str:
    generated = report.generated_at.strftime("%Y-%m-%dT%H:%M:%S")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta {NS}><office:meta>'
        f"<dc:title>{_text(report.title)}</dc:title><dc:language>fr-FR</dc:language>"
        f"<meta:generator>TGD</meta:generator><dc:date>{generated}</dc:date>"
        "</office:meta></office:document-meta>"
    )
