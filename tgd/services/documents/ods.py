"""OpenDocument spreadsheets (ODS), streamed: the one ODS writer of the platform.

The committee reports and the destruction register both write through it. The
ODF package is written as a stream (``zipfile`` and escaped XML), not with
odfpy's in-memory DOM: a national half-year holds hundreds of thousands of
cells, which odfpy needs minutes and a gigabyte to serialise (measured in
``bench/reports.py``). The package follows ODF 1.2 (uncompressed ``mimetype``
first, manifest, content, styles, meta); LibreOffice opens it (tested with
``libreoffice --headless --convert-to pdf``).

A caller yields the sheets as XML chunks built with ``sheet``, ``row`` and
``SHEET_END``; ``write_spreadsheet`` wraps them in the package.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import IO
from xml.sax.saxutils import escape, quoteattr

Cell = str | int | float | None  # what a cell holds (``tgd.services.reports.model.Cell``)
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
# The cell styles a row may use.
BOLD = "ce1"
TITLE = "ce2"
ITALIC = "ce3"
SHEET_END = "</table:table>"
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SHEET_FORBIDDEN = re.compile(r"[\[\]*?:/\\']")


def write_spreadsheet(
    out: IO[bytes], sheets: Iterable[str], *, title: str, generated_at: datetime | None = None
) -> None:
    """Write an ODS package whose body is the given sheet chunks to a binary stream."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
        package.writestr("META-INF/manifest.xml", _manifest())
        package.writestr("styles.xml", _styles())
        package.writestr("meta.xml", _meta(title, generated_at))
        with package.open("content.xml", "w", force_zip64=True) as content:
            batch: list[str] = [_CONTENT_START]
            for chunk in sheets:
                batch.append(chunk)
                if len(batch) >= 2000:  # one write per 2 000 rows, not per row
                    content.write(_INVALID_XML.sub("", "".join(batch)).encode("utf-8"))
                    batch.clear()
            batch.append(_CONTENT_END)
            content.write(_INVALID_XML.sub("", "".join(batch)).encode("utf-8"))


def sheet_name(base: str, used: set[str]) -> str:
    """Return a unique sheet name (31 characters at most, no forbidden character)."""
    base = _SHEET_FORBIDDEN.sub(" ", base)
    name = base[:31].strip()
    counter = 2
    while name in used:
        suffix = f" ({counter})"
        name = base[: 31 - len(suffix)].strip() + suffix
        counter += 1
    used.add(name)
    return name


def sheet(name: str, columns: int) -> str:
    """Open a sheet of ``columns`` columns (close it with ``SHEET_END``)."""
    return (
        f"<table:table table:name={_attr(name)}>"
        '<table:table-column table:style-name="co1" '
        f'table:number-columns-repeated="{max(1, columns)}"/>'
    )


def row(values: Sequence[Cell], style: str = "") -> str:
    """Return one row; numbers are typed as numbers, with a decimal comma shown."""
    return "<table:table-row>" + "".join(_cell(v, style) for v in values) + "</table:table-row>"


def _text(value: str) -> str:
    # Control characters are removed once per written chunk (see write_spreadsheet).
    if "&" in value or "<" in value or ">" in value:
        return escape(value)
    return value


def _attr(value: str) -> str:
    return quoteattr(_INVALID_XML.sub("", value))


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


_CONTENT_START = (
    f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {NS}>'
    "<office:automatic-styles>"
    '<style:style style:name="co1" style:family="table-column">'
    '<style:table-column-properties style:column-width="4.5cm"/></style:style>'
    f'<style:style style:name="{BOLD}" style:family="table-cell">'
    '<style:text-properties fo:font-weight="bold"/></style:style>'
    f'<style:style style:name="{TITLE}" style:family="table-cell">'
    '<style:text-properties fo:font-weight="bold" fo:font-size="13pt"/></style:style>'
    f'<style:style style:name="{ITALIC}" style:family="table-cell">'
    '<style:text-properties fo:font-style="italic"/></style:style>'
    "</office:automatic-styles><office:body><office:spreadsheet>"
)
_CONTENT_END = "</office:spreadsheet></office:body></office:document-content>"


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


def _meta(title: str, generated_at: datetime | None) -> str:
    date = (
        f"<dc:date>{generated_at.strftime('%Y-%m-%dT%H:%M:%S')}</dc:date>" if generated_at else ""
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta {NS}><office:meta>'
        f"<dc:title>{_text(title)}</dc:title><dc:language>fr-FR</dc:language>"
        f"<meta:generator>TGD</meta:generator>{date}"
        "</office:meta></office:document-meta>"
    )
