"""The text document model: a picture's printed height keeps the PNG's ratio."""

from __future__ import annotations

import pytest

from tests.unit.services.documents.conftest import png
from tgd.services.documents.model import Picture


@pytest.mark.parametrize(
    ("width", "height", "printed"), [(40, 20, 8.0), (20, 40, 32.0), (300, 135, 7.2)]
)
def test_picture_height_follows_the_png_ratio(width: int, height: int, printed: float) -> None:
    picture = Picture(png(width, height), "légende", width_cm=16)
    assert picture.height_cm == pytest.approx(printed)
