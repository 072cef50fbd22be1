"""The CSS the checks read: colours and contrast."""

from __future__ import annotations

import pytest

from newsletter.review.css import contrast_ratio


@pytest.mark.parametrize(
    ("text", "background", "ratio"),
    [("#ffffff", "#000000", 21.0), ("#ffffff", "#ffffff", 1.0), ("#767676", "#ffffff", 4.54)],
)
def test_contrast_ratio_matches_wcag(text: str, background: str, ratio: float) -> None:
    def rgb(hex_colour: str) -> tuple[int, int, int]:
        return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))

    assert contrast_ratio(rgb(text), rgb(background)) == pytest.approx(ratio, abs=0.01)
