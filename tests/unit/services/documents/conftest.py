"""A document with one block of each kind, shared by the ODT and PDF writer tests."""

from __future__ import annotations

import struct
import zlib

from tgd.services.documents.model import (
    Document,
    Grid,
    Heading,
    Note,
    Pairs,
    Paragraph,
    Picture,
)


def png(width: int, height: int) -> bytes:
    """Return a valid grey PNG of the given pixel size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    pixels = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


# In document order: what a reader must find, whatever the format.
TITLE = "Fiche bénéficiaire 2026-0042"
TEXTS = [
    TITLE,
    "Chez sa sœur à Lyon — « provisoire » ; 12,5 %.",
    "Document nominatif : R&D <b>non interprété</b>.",
    "Historique des versions",
    "Numéro de fiche",
    "2026-0042",
    "Juridiction",
    "Tribunal judiciaire de Saint-Étienne",
    "Tableau 3 — Numéros appelés",
    "Référence",
    "Appels",
    "M 75 75056 01 1",
    "12",
    "Appels reçus par mois : 2026-07 4, 2026-08 7",
]


def sample(*, landscape: bool = False, footer: str = "") -> Document:
    """Return a document using every block kind, its texts being ``TEXTS`` in order."""
    return Document(
        title=TITLE,
        blocks=[
            Heading(TEXTS[0], level=1),
            Paragraph(TEXTS[1]),
            Note(TEXTS[2]),
            Heading(TEXTS[3]),
            Pairs([(TEXTS[4], TEXTS[5]), (TEXTS[6], TEXTS[7])]),
            Heading(TEXTS[8]),
            Grid([TEXTS[9], TEXTS[10]], [[TEXTS[11], TEXTS[12]]], width=0.6),
            Picture(png(40, 20), TEXTS[13], width_cm=16),
        ],
        landscape=landscape,
        author="Téléphone Grave Danger",
        footer=footer,
    )
