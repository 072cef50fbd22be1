"""Plain-text columns: blog exports, with the byline, bio and book promotion left out of the body."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.errors import NewsletterError
from newsletter.project.columns import Block, Column, parse_plain_text, read_column
from tests.column_samples import BLOG_BLOCKS, BLOG_EXPORT, all_text, write


def test_plain_text_column_is_split_into_title_blocks_and_author(tmp_path: Path) -> None:
    path = write(tmp_path, "weglaten.txt", BLOG_EXPORT)

    column = read_column(path)

    assert column == Column(
        path=path,
        title="De kunst van het weglaten",
        label="Column",
        blocks=BLOG_BLOCKS,
        author_name="Marieke de Wit",
        author_handle="mariekeschrijft",
        author_bio="Marieke de Wit is schrijfdocent en auteur van ‘Minder is meer’.",
        author=None,
        url=None,
        image=None,
        image_alt=None,
    )


def test_plain_text_book_promotion_after_the_bio_is_not_part_of_the_column(tmp_path: Path) -> None:
    column = read_column(write(tmp_path, "weglaten.txt", BLOG_EXPORT))

    text = all_text(column)
    assert "BESTEL NU" not in text
    assert "19,99" not in text
    assert "Weg ermee" not in text
    assert "mariekeschrijft" not in text


def test_plain_text_bio_may_follow_the_byline_after_a_blank_line() -> None:
    text = (
        "Titel\n\nEen alinea.\n\nJan-Willem d’Oliveira (@jw.doliveira)\n\nJan-Willem schrijft over taal.\n\n"
        "BESTEL NU! € 19,99\n"
    )

    column = parse_plain_text(text, Path("c.txt"))

    assert column.blocks == (Block("paragraph", text="Een alinea."),)
    assert column.author_name == "Jan-Willem d’Oliveira"
    assert column.author_handle == "jw.doliveira"
    assert column.author_bio == "Jan-Willem schrijft over taal."


def test_plain_text_first_byline_ends_the_column_even_inside_a_block() -> None:
    text = "Titel\n\nLaatste zin.\nAnna Bakker (@anna_b)\nAnna schrijft.\n\nPiet Smit (@piet)\nPiet ook.\n"

    column = parse_plain_text(text, Path("c.txt"))

    assert column.blocks == (Block("paragraph", text="Laatste zin."),)
    assert (column.author_name, column.author_handle, column.author_bio) == (
        "Anna Bakker",
        "anna_b",
        "Anna schrijft.",
    )


def test_plain_text_windows_line_endings_and_bom_are_tolerated(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + BLOG_EXPORT.replace("\n", "\r\n").encode("utf-8")
    path = write(tmp_path, "weglaten.txt", data)

    column = read_column(path)

    assert column.title == "De kunst van het weglaten"
    assert column.label == "Column"
    assert column.blocks == BLOG_BLOCKS
    assert column.author_bio == "Marieke de Wit is schrijfdocent en auteur van ‘Minder is meer’."


def test_parse_plain_text_itself_strips_bom_and_carriage_returns() -> None:
    column = parse_plain_text("\ufeffTitel\r\n\r\nEen zin\r\nover twee regels.\r\n", Path("c.txt"))

    assert column.title == "Titel"
    assert column.label is None
    assert column.blocks == (Block("paragraph", text="Een zin over twee regels."),)


def test_plain_text_without_byline_keeps_everything_as_body() -> None:
    text = "\n\n  Zonder ondertekening  \n\nEerste alinea.\n\nTussenkop\n\nSlotalinea, zonder naam eronder.\n"

    column = parse_plain_text(text, Path("c.txt"))

    assert column.title == "Zonder ondertekening"
    assert column.blocks == (
        Block("paragraph", text="Eerste alinea."),
        Block("heading", text="Tussenkop"),
        Block("paragraph", text="Slotalinea, zonder naam eronder."),
    )
    assert (column.author_name, column.author_handle, column.author_bio) == (None, None, None)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Waarom schrappen werkt", "heading"),
        ("Tip (1)", "heading"),
        ("Waarom schrappen werkt?", "heading"),
        ("Dat is het!", "paragraph"),
        ("Dit zijn de regels:", "paragraph"),
        ("“Nee.”", "paragraph"),
        ("een twee drie vier vijf zes zeven acht negen tien elf", "paragraph"),
        ("x" * 81, "paragraph"),
    ],
)
def test_plain_text_heading_is_a_short_unpunctuated_single_line(line: str, kind: str) -> None:
    column = parse_plain_text(f"Titel\n\n{line}\n\nSlot.\n", Path("c.txt"))

    assert (column.blocks[0].kind, column.blocks[0].text) == (kind, line)


def test_plain_text_text_after_bullets_in_same_block_is_a_paragraph() -> None:
    column = parse_plain_text("Titel\n\n- een\n- twee\nEn dan nog dit.\n", Path("c.txt"))

    assert column.blocks == (
        Block("bullets", items=("een", "twee")),
        Block("paragraph", text="En dan nog dit."),
    )


def test_plain_text_bullets_may_start_with_an_asterisk_as_well() -> None:
    column = parse_plain_text("Titel\n\nDrie regels:\n* een\n* twee\n- drie\n", Path("c.txt"))

    assert column.blocks == (
        Block("paragraph", text="Drie regels:"),
        Block("bullets", items=("een", "twee", "drie")),
    )


@pytest.mark.parametrize(
    "text", ["", "\n  \n", "\ufeff\r\n", "Alleen een titel\n", "Titel\n\nAnna (@anna)\nBio.\n"]
)
def test_plain_text_without_body_is_an_error(text: str) -> None:
    with pytest.raises(NewsletterError) as info:
        parse_plain_text(text, Path("leeg.txt"))

    assert info.value.message == "column has no text"
    assert info.value.path == Path("leeg.txt")


def test_label_without_title_is_an_error() -> None:
    with pytest.raises(NewsletterError) as info:
        parse_plain_text("[Column]\n\nTekst.\n", Path("c.txt"))

    assert info.value.field == "title"
