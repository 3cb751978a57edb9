"""The PDF writer: every block kind, in order, DejaVu fonts, page orientation, French metadata."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pypdf

from tests.unit.services.documents.conftest import TEXTS, TITLE, sample
from tgd.services.documents import pdf
from tgd.services.documents.model import Document, Grid


def written(document: Document) -> bytes:
    out = BytesIO()
    pdf.write_document(out, document)
    return out.getvalue()


def text_of(reader: pypdf.PdfReader) -> str:
    """Return the whole text, whitespace collapsed (table cells wrap lines)."""
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_every_block_prints_its_texts_in_order() -> None:
    content = written(sample())
    assert content.startswith(b"%PDF")
    text = text_of(pypdf.PdfReader(BytesIO(content)))
    position = 0
    for expected in TEXTS:  # each one after the one before
        found = text.find(expected, position)
        assert found >= 0, (expected, text[position:])
        position = found + len(expected)


def test_text_is_set_in_dejavu_with_the_picture() -> None:
    page = pypdf.PdfReader(BytesIO(written(sample(footer="TGD — comité")))).pages[0]
    fonts: dict[str, str] = {}  # each piece of text shown, with its font

    def seen(text: str, _cm: Any, _tm: Any, font: Any, _size: Any) -> None:
        if text.strip():
            fonts[text.strip()] = str(font["/BaseFont"])

    page.extract_text(visitor_text=seen)
    assert "Chez sa sœur à Lyon — « provisoire » ; 12,5 %." in fonts
    assert all("DejaVuSans" in font for font in fonts.values()), fonts
    assert fonts[TITLE].endswith("DejaVuSans-Bold")
    assert len(page.images) == 1


def test_portrait_by_default_landscape_when_asked() -> None:
    portrait = pypdf.PdfReader(BytesIO(written(sample()))).pages[0].mediabox
    assert round(portrait.width) == 595 and round(portrait.height) == 842
    landscape = pypdf.PdfReader(BytesIO(written(sample(landscape=True)))).pages[0].mediabox
    assert round(landscape.width) == 842 and round(landscape.height) == 595


def test_metadata_says_french() -> None:
    reader = pypdf.PdfReader(BytesIO(written(sample())))
    assert reader.metadata is not None
    assert reader.metadata.title == TITLE and reader.metadata.author == "Téléphone Grave Danger"
    assert reader.trailer["/Root"]["/Lang"] == "fr-FR"


def test_footer_numbers_the_pages_only_when_given() -> None:
    rows = [[f"M 75 75056 {n:02} 1", str(n)] for n in range(150)]
    long = Document("Long", [Grid(["Référence", "Appels"], rows)], footer="TGD — comité")
    reader = pypdf.PdfReader(BytesIO(written(long)))
    assert len(reader.pages) >= 2
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert "TGD — comité" in text and f"page {number}" in text
        assert "Référence" in text  # the header row repeats on every page
    assert "page 1" not in text_of(pypdf.PdfReader(BytesIO(written(sample()))))
