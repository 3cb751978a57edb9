"""The ODT writer: every block kind, in order, in a package odfpy opens; page and language."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from io import BytesIO
from typing import Any

from odf import teletype
from odf.namespaces import TEXTNS
from odf.opendocument import OpenDocument, load
from odf.style import PageLayoutProperties
from odf.table import TableHeaderRows

from tests.unit.services.documents.conftest import TEXTS, TITLE, png, sample
from tgd.services.documents import odt
from tgd.services.documents.model import Document, Picture


def written(document: Document) -> bytes:
    out = BytesIO()
    odt.write_document(out, document)
    return out.getvalue()


def paragraphs(node: Any) -> Iterator[str]:
    """Yield the text of every heading and paragraph under ``node``, in document order."""
    for child in node.childNodes:
        if getattr(child, "qname", None) in {(TEXTNS, "h"), (TEXTNS, "p")}:
            yield teletype.extractText(child)
        else:
            yield from paragraphs(child)


def opened(content: bytes) -> OpenDocument:
    return load(BytesIO(content))


def test_every_block_prints_its_texts_in_order() -> None:
    doc = opened(written(sample()))
    assert [t for t in paragraphs(doc.text) if t] == TEXTS


def test_data_table_has_a_header_row_and_label_values_have_none() -> None:
    doc = opened(written(sample()))
    (head,) = doc.getElementsByType(TableHeaderRows)
    assert list(paragraphs(head)) == ["Référence", "Appels"]


def test_picture_is_in_the_package_with_its_ratio() -> None:
    content = written(Document("Graphiques", [Picture(png(40, 20), "Légende", width_cm=16)]))
    with zipfile.ZipFile(BytesIO(content)) as package:
        assert package.read("Pictures/image1.png") == png(40, 20)
        body = package.read("content.xml").decode()
    assert 'svg:width="16.00cm"' in body and 'svg:height="8.00cm"' in body
    assert 'xlink:href="Pictures/image1.png"' in body


def test_portrait_by_default_landscape_when_asked() -> None:
    for landscape, width, height in ((False, "21.0cm", "29.7cm"), (True, "29.7cm", "21.0cm")):
        doc = opened(written(sample(landscape=landscape)))
        (page,) = doc.getElementsByType(PageLayoutProperties)
        assert page.getAttribute("pagewidth") == width
        assert page.getAttribute("pageheight") == height
        orientation = "landscape" if landscape else "portrait"
        assert page.getAttribute("printorientation") == orientation


def test_metadata_and_styles_say_french() -> None:
    with zipfile.ZipFile(BytesIO(written(sample()))) as package:
        meta = package.read("meta.xml").decode()
        styles = package.read("styles.xml").decode()
    assert "<dc:language>fr-FR</dc:language>" in meta
    assert f"<dc:title>{TITLE}</dc:title>" in meta
    assert "Téléphone Grave Danger" in meta
    assert styles.count('fo:language="fr"') >= 7  # every paragraph style
