"""What a text document is, whatever its format: a title, a page and a list of blocks.

The file export at closure and the committee report each describe their
document once with these plain values; ``odt`` and ``pdf`` lay the same
blocks out, so the two formats cannot drift apart (same texts, same order),
and a layout fix is made once per format for every caller. Texts are plain
strings, already in French: the writers escape them, and table cells arrive
formatted (decimal comma and all), since what a value should read like is the
caller's business, not the format's.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Heading:
    """A heading: level 1 is the document's title, level 2 a section."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of body text."""

    text: str


@dataclass(frozen=True)
class Note:
    """A smaller aside: a subtitle, a table's description, a caption, « N more rows »."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """A two-column table of label/value rows, labels in bold, no header row."""

    rows: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Grid:
    """A data table: a header row (repeated on each PDF page), then the rows.

    ``width`` is the share of the text width the table takes; its columns are equal.
    """

    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    width: float = 1.0


@dataclass(frozen=True)
class Picture:
    """A PNG image ``width_cm`` wide (its height keeps the image's ratio), with its caption."""

    png: bytes
    caption: str
    width_cm: float = 16.0

    @property
    def height_cm(self) -> float:
        """Return the printed height, from the pixel size in the PNG header (IHDR)."""
        width: int
        height: int
        width, height = struct.unpack(">II", self.png[16:24])
        return self.width_cm * height / width


Block = Heading | Paragraph | Note | Pairs | Grid | Picture


@dataclass(frozen=True)
class Document:
    """A text document: its title (metadata), its blocks in order and its A4 page.

    ``footer``, when given, is printed at the foot of each PDF page with the page
    number; an ODT leaves pagination to the word processor.
    """

    title: str
    blocks: list[Block] = field(default_factory=list)
    landscape: bool = False
    author: str = "TGD"
    footer: str = ""
