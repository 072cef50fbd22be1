"""Money and lists as readers of each locale write them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from newsletter.render.i18n import STRINGS, format_co_authors, format_price


@pytest.mark.parametrize(
    ("amount", "locale", "expected"),
    [
        ("34.95", "nl", "€\xa034,95"),
        ("34.95", "en", "€34.95"),
        ("1234.5", "nl", "€\xa01.234,50"),
        ("1234.5", "en", "€1,234.50"),
        ("7", "nl", "€\xa07,00"),
    ],
)
def test_price_is_formatted_per_locale(amount: str, locale: str, expected: str) -> None:
    assert format_price(Decimal(amount), "EUR", locale) == expected


@pytest.mark.parametrize(
    ("names", "locale", "expected"),
    [
        (["A", "B", "C", "D"], "nl", "Met A, B, C & D"),
        (["A", "B", "C", "D"], "en", "With A, B, C and D"),
        (["A", "B"], "nl", "Met A & B"),
        (["A"], "en", "With A"),
        ([], "nl", ""),
    ],
)
def test_co_authors_are_listed_per_locale(names: list[str], locale: str, expected: str) -> None:
    assert format_co_authors(names, locale) == expected


def test_every_locale_has_every_word() -> None:
    assert STRINGS["nl"].keys() == STRINGS["en"].keys()
    assert (STRINGS["nl"]["order_now"], STRINGS["en"]["order_now"]) == ("BESTEL NU!", "ORDER NOW")
