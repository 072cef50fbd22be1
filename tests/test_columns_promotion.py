"""The book promotion after a column (issue 11): cut from the column, and read for `newsletter new`."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.project.columns import Block, Promotion, make_excerpt, parse_markdown, parse_plain_text
from newsletter.project.columns.promotion import book_sku, find_promotion, promotes
from tests.column_samples import BLOGGER_EN, MARKDOWN_EXPORT, NEW_BOOK_NL, WORDPRESS_NL, all_text


@pytest.mark.parametrize(
    ("line", "title", "co_authors"),
    [
        (
            "Boek Schrijven is schrappen met Joost Hendriks, Fatima El Amrani en Pieter-Jan Claes",
            "Schrijven is schrappen",
            ("Joost Hendriks", "Fatima El Amrani", "Pieter-Jan Claes"),
        ),
        (
            "Book The Quiet Page with Thomas Verbeek & Ilse Maas",
            "The Quiet Page",
            ("Thomas Verbeek", "Ilse Maas"),
        ),
        (
            "Book The Quiet Page with Thomas Verbeek, and Ilse Maas.",
            "The Quiet Page",
            ("Thomas Verbeek", "Ilse Maas"),
        ),
        ("Boek: ‘Weg ermee!’ met Jan-Willem d’Oliveira", "Weg ermee!", ("Jan-Willem d’Oliveira",)),
        ("Boek Koken met Kinderen met Anna van der Berg", "Koken met Kinderen", ("Anna van der Berg",)),
    ],
)
def test_a_book_line_names_the_title_and_co_authors(
    line: str, title: str, co_authors: tuple[str, ...]
) -> None:
    assert find_promotion(["Laatste zin.", "", line, "BESTEL NU!"]) == (
        2,
        Promotion(line=line.rstrip(), title=title, co_authors=co_authors),
    )


@pytest.mark.parametrize(
    "line",
    [
        "Boek je reis met korting",  # the verb: no title, no names
        "Boek een huisje met Anna",
        "Boek Weg ermee!",  # no co-authors and no order line after it
        "Het boek Weg ermee! met Joost Hendriks",
        "Een boek lees je met aandacht.",
        "Bestel nu je kaartjes, want vol is vol.",
        "Order now and then, and you will see.",
    ],
)
def test_lines_that_are_not_a_promotion(line: str) -> None:
    assert find_promotion([line, "Nog een zin."]) is None


@pytest.mark.parametrize(
    "line", ["BESTEL NU! € 19,99", "Bestel nu!", "ORDER NOW", "Order now: €24.50", "bestel nu"]
)
def test_order_lines(line: str) -> None:
    assert find_promotion(["Tekst.", line]) == (1, Promotion(line=line))


def test_a_book_line_without_co_authors_counts_when_an_order_line_follows() -> None:
    found = find_promotion(["Boek Weg ermee!", "", "ORDER NOW – €19.99"])

    assert found == (0, Promotion(line="Boek Weg ermee!", title="Weg ermee!"))


def test_an_order_line_alone_ends_the_column_but_names_no_book() -> None:
    text = "Titel\n\nTekst.\n\nHaar nieuwe boek ligt vanaf maart in de winkel.\nBESTEL NU! € 19,99\n"

    column = parse_plain_text(text, Path("c.txt"))

    assert column.blocks == (Block("paragraph", "Tekst."),)
    assert column.promotion is None


def test_the_promotion_after_the_bio_is_read_and_kept_out_of_the_bio() -> None:
    column = parse_plain_text(WORDPRESS_NL, Path("c.txt"))

    assert column.author_bio == "Marieke de Wit is eindredacteur en schrijft elke maand over taal."
    assert column.promotion == Promotion(
        line="Boek Schrijven is schrappen met Joost Hendriks, Fatima El Amrani en Pieter-Jan Claes",
        title="Schrijven is schrappen",
        co_authors=("Joost Hendriks", "Fatima El Amrani", "Pieter-Jan Claes"),
    )
    assert "BESTEL" not in all_text(column) and "34,95" not in all_text(column)


def test_a_promotion_without_a_byline_is_cut_from_the_body_and_the_excerpt() -> None:
    column = parse_plain_text(BLOGGER_EN, Path("c.txt"))

    assert column.promotion is not None and column.promotion.title == "THE QUIET PAGE"
    assert column.blocks[-1] == Block(
        "paragraph",
        "That is not a lack of speed. It is a different kind of attention, and it can be learned.",
    )
    for words in (10, 50, 400):
        excerpt = make_excerpt(column.blocks, words)
        assert "QUIET" not in excerpt and "ORDER" not in excerpt and "24.50" not in excerpt


def test_a_promotion_in_the_same_block_as_the_byline_and_bio() -> None:
    text = "Titel\n\nTekst.\n\nAnna Bakker (@anna_b)\nBoek Weg ermee! met Joost Hendriks\nBESTEL NU!\n"

    column = parse_plain_text(text, Path("c.txt"))

    assert (column.author_name, column.author_bio) == ("Anna Bakker", None)
    assert column.promotion == Promotion(
        "Boek Weg ermee! met Joost Hendriks", "Weg ermee!", ("Joost Hendriks",)
    )


def test_quoted_titles_and_ampersands() -> None:
    column = parse_plain_text(NEW_BOOK_NL, Path("c.txt"))

    assert column.promotion == Promotion(
        line="Boek ‘Weg ermee!’ met Joost Hendriks & Anouk van den Berg",
        title="Weg ermee!",
        co_authors=("Joost Hendriks", "Anouk van den Berg"),
    )


def test_markdown_promotion_after_the_bio() -> None:
    column = parse_markdown(MARKDOWN_EXPORT, Path("c.md"))

    assert column.author_bio == "Marieke de Wit is eindredacteur."
    assert column.promotion == Promotion(
        line="Boek Schrijven is schrappen met Joost Hendriks en Pieter-Jan Claes",
        title="Schrijven is schrappen",
        co_authors=("Joost Hendriks", "Pieter-Jan Claes"),
    )


def test_markdown_promotion_without_a_byline_is_cut_from_the_body() -> None:
    text = "# Titel\n\nTekst.\n\nBoek Weg ermee! met Joost Hendriks\n\n**BESTEL NU!**\n"

    column = parse_markdown(text, Path("c.md"))

    assert column.blocks == (Block("paragraph", "Tekst."),)
    assert column.promotion is not None and column.promotion.title == "Weg ermee!"


@pytest.mark.parametrize(
    ("promotion", "expected"),
    [
        (Promotion("", "Schrijven is schrappen", ("Joost Hendriks", "Pieter-Jan Claes")), True),
        (Promotion("", "SCHRIJVEN IS SCHRAPPEN", ("Fátima el Amrani",)), True),
        (Promotion("", "Schrijven is schrappen: een praktische gids voor heldere taal", ()), True),
        (Promotion("", "Schrijven is schrappen", ("Jan de Vries",)), False),
        (Promotion("", "Schrijven en schrappen", ("Joost Hendriks",)), False),
        (Promotion("BESTEL NU!"), False),
    ],
)
def test_promotes_compares_title_and_co_authors_as_a_reader_would(
    promotion: Promotion, expected: bool
) -> None:
    book = ("Schrijven is schrappen", "Een praktische gids voor heldere taal")
    co_authors = ["Marieke de Wit", "Joost Hendriks", "Fatima El Amrani", "Pieter-Jan Claes"]

    assert promotes(promotion, *book, co_authors) is expected


@pytest.mark.parametrize(
    ("title", "sku"),
    [
        ("Weg ermee!", "weg-ermee"),
        ("Één dag in het Café", "een-dag-in-het-cafe"),
        ("“1984”", "1984"),
        ("…", ""),
    ],
)
def test_book_sku_is_the_title_in_ascii_words(title: str, sku: str) -> None:
    assert book_sku(title) == sku


def test_a_very_long_line_is_no_byline_and_takes_no_time() -> None:
    from newsletter.project.columns.byline import match_byline

    assert match_byline("Marieke de Wit " * 100_000 + "(@handle)") is None
