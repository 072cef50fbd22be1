"""Page chrome above a column's title (issue 11): which line is the title, and what is dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.project.columns import (
    Block,
    make_excerpt,
    parse_markdown,
    parse_plain_text,
    read_column,
    read_column_file,
)
from tests.column_samples import (
    BLOG_EXPORT,
    BLOGGER_EN,
    MARKDOWN_EXPORT,
    SITE_NAME,
    WORDPRESS_NL,
    WORDPRESS_NL_EXCERPT,
    all_text,
)


def test_a_label_line_wins_over_the_site_name_menu_and_question_above_it() -> None:
    column = parse_plain_text(WORDPRESS_NL, Path("c.txt"), site_name=SITE_NAME)

    assert (column.label, column.title) == ("Column", "Social media verandert jouw bedrijf!")
    assert column.warnings == (
        "dropped page chrome above the title: “Uitgeverij Lindenhof – boeken die blijven” (site name), "
        "“Home | Boeken | Columns | Agenda | Contact” (menu), “Adverteren of een persbericht?” (question)",
    )
    assert make_excerpt(column.blocks, 20) == WORDPRESS_NL_EXCERPT
    for chrome in ("Lindenhof", "Agenda", "persbericht"):
        assert chrome not in all_text(column)


def test_without_a_label_the_title_is_the_first_line_that_is_not_chrome() -> None:
    column = parse_plain_text(BLOGGER_EN, Path("c.txt"), site_name=SITE_NAME)

    assert (column.label, column.title) == (None, "Why slow readers remember more")
    assert column.warnings == (
        "dropped page chrome above the title: “Lindenhof Blog” (short line), "
        "“Books, writing and reading” (page header)",
    )
    assert column.blocks[0].text.startswith("Every reader knows the feeling")


@pytest.mark.parametrize(
    ("text", "title", "dropped"),
    [
        # Slogans of any length are chrome above a label line.
        ("Boeken die je bijblijven, sinds 1952\n\n[Column] Schrappen\n\nTekst.\n", "Schrappen", 1),
        # A question or a short line above a longer title: chrome.
        (
            "Adverteren of een persbericht?\nDe kunst van het weglaten\n\nTekst.\n",
            "De kunst van het weglaten",
            1,
        ),
        ("Menu\n\nZoeken\n\nDe kunst van het weglaten\n\nTekst.\n", "De kunst van het weglaten", 2),
        ("Home » Columns » Weglaten\n\nSchrappen\n\nTekst.\n", "Schrappen", 1),
        # Without chrome nothing changes: the first line is the title, however short.
        ("Titel\n\nTekst.\n", "Titel", 0),
        ("Schrappen\n\nWaar begin je?\n\nTekst.\n", "Schrappen", 0),
        ("Waarom lezen we nog op papier?\n\nTekst.\n", "Waarom lezen we nog op papier?", 0),
        ("De kunst van het weglaten\nWaarom minder meer is\n\nTekst.\n", "De kunst van het weglaten", 0),
        # A bracketed line after the text has started is not the title.
        (
            "Een eerste zin die het stuk opent.\n\n[Update] Iets\n\nTekst.\n",
            "Een eerste zin die het stuk opent.",
            0,
        ),
    ],
)
def test_title_rules(text: str, title: str, dropped: int) -> None:
    column = parse_plain_text(text, Path("c.txt"), site_name=SITE_NAME)

    assert column.title == title
    assert len(column.warnings) == (1 if dropped else 0)
    if dropped:
        assert column.warnings[0].count("”") == dropped


def test_the_site_name_is_chrome_only_when_the_reader_is_told_it() -> None:
    text = "Uitgeverij Lindenhof: al zeventig jaar boeken die blijven\n\nLezen bij lamplicht\n\nTekst.\n"

    told = parse_plain_text(text, Path("c.txt"), site_name=SITE_NAME)
    untold = parse_plain_text(text, Path("c.txt"))

    assert told.title == "Lezen bij lamplicht"
    assert told.warnings == (
        "dropped page chrome above the title: “Uitgeverij Lindenhof: al zeventig jaar boeken die blijven” "
        "(site name)",
    )
    assert untold.title == "Uitgeverij Lindenhof: al zeventig jaar boeken die blijven"
    assert untold.warnings == ()


def test_a_column_without_chrome_has_no_warnings() -> None:
    column = parse_plain_text(BLOG_EXPORT, Path("c.txt"), site_name=SITE_NAME)

    assert column.title == "De kunst van het weglaten"
    assert column.warnings == ()


def test_markdown_chrome_above_the_heading_is_dropped_with_a_warning() -> None:
    column = parse_markdown(MARKDOWN_EXPORT, Path("c.md"), site_name=SITE_NAME)

    assert (column.label, column.title) == ("Column", "Lezen in de trein")
    assert column.warnings == (
        "dropped page chrome above the title: “Uitgeverij Lindenhof” (site name), "
        "“Home | Boeken | Columns” (menu)",
    )
    assert column.blocks == (
        Block(
            "paragraph",
            text="Iedereen leest in de trein, zegt men. Maar wie om zich heen kijkt, ziet vooral schermen.",
        ),
    )


def test_markdown_label_paragraph_is_the_title_without_a_heading() -> None:
    column = parse_markdown("Home | Columns\n\n[Column] Schrappen\n\nTekst.\n", Path("c.md"))

    assert (column.label, column.title, column.blocks) == (
        "Column",
        "Schrappen",
        (Block("paragraph", "Tekst."),),
    )
    assert column.warnings == ("dropped page chrome above the title: “Home | Columns” (menu)",)


def test_markdown_front_matter_title_leaves_the_body_alone() -> None:
    column = parse_markdown("---\ntitle: Schrappen\n---\nHome | Columns\n\nTekst.\n", Path("c.md"))

    assert column.title == "Schrappen"
    assert column.warnings == ()
    assert column.blocks[0] == Block("paragraph", "Home | Columns")


def test_the_file_without_its_chrome_keeps_the_front_matter_and_reads_as_the_same_column(
    tmp_path: Path,
) -> None:
    front = "---\nauthor: marieke-de-wit\n---\n"
    path = tmp_path / "trein.md"
    path.write_bytes((front + "\n" + MARKDOWN_EXPORT).replace("\n", "\r\n").encode("utf-8"))

    read = read_column_file(path, site_name=SITE_NAME)

    assert read.cleaned
    assert read.text == front + MARKDOWN_EXPORT[MARKDOWN_EXPORT.index("# [Column]") :]
    path.write_text(read.text, encoding="utf-8")
    again = read_column(path, site_name=SITE_NAME)
    assert (again.warnings, again.title, again.blocks) == ((), read.column.title, read.column.blocks)


def test_a_file_without_chrome_is_read_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "weglaten.txt"
    path.write_text(BLOG_EXPORT, encoding="utf-8")

    assert read_column_file(path, site_name=SITE_NAME).text == BLOG_EXPORT
    assert not read_column_file(path, site_name=SITE_NAME).cleaned
