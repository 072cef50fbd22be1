"""Columns: reading blog exports and Markdown, and teaser excerpts that keep the writer's text intact."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.errors import NewsletterError
from newsletter.project.columns import (
    Block,
    Column,
    make_excerpt,
    parse_markdown,
    parse_plain_text,
    read_column,
)

BLOG_EXPORT = """\
[Column] De kunst van het weglaten

Elke schrijver kent het moment: de tekst is af,
maar hij is te lang. Wat doe je dan? Je schrapt.

Mijn eerste hoofdredacteur zei het zo: “Alles wat je weglaat, kan niet fout zijn.” Ik vond dat \
toen cynisch. Nu vind ik het wijs.

Waar begin je

Ik houd me aan drie vuistregels:
- Schrap het eerste alinea’tje; daar zit je nog op te warmen.
– Schrap elk bijvoeglijk naamwoord
  dat niets toevoegt.
• Schrap wat je lezer allang weet.

Het resultaat is zelden korter dan je hoopt – maar altijd beter dan je vreest.

Marieke de Wit (@mariekeschrijft)
Marieke de Wit is schrijfdocent en auteur van ‘Minder is meer’.

Haar nieuwe boek ‘Weg ermee!’ ligt vanaf 12 maart in de winkel.
BESTEL NU! Van € 24,99 voor € 19,99.
"""

BLOG_BLOCKS = (
    Block(
        "paragraph",
        text="Elke schrijver kent het moment: de tekst is af, maar hij is te lang. "
        "Wat doe je dan? Je schrapt.",
    ),
    Block(
        "paragraph",
        text="Mijn eerste hoofdredacteur zei het zo: “Alles wat je weglaat, kan niet fout zijn.” "
        "Ik vond dat toen cynisch. Nu vind ik het wijs.",
    ),
    Block("heading", text="Waar begin je"),
    Block("paragraph", text="Ik houd me aan drie vuistregels:"),
    Block(
        "bullets",
        items=(
            "Schrap het eerste alinea’tje; daar zit je nog op te warmen.",
            "Schrap elk bijvoeglijk naamwoord dat niets toevoegt.",
            "Schrap wat je lezer allang weet.",
        ),
    ),
    Block("paragraph", text="Het resultaat is zelden korter dan je hoopt – maar altijd beter dan je vreest."),
)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def all_text(column: Column) -> str:
    return " ".join(
        [column.title, *(b.text for b in column.blocks), *(i for b in column.blocks for i in b.items)]
    )


# --- plain text --------------------------------------------------------------------------------------


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


# --- Markdown ----------------------------------------------------------------------------------------

MARKDOWN_COLUMN = """\
---
title: "Schrijven is schrappen"
label: Opinie
author: marieke-de-wit
url: https://example.nl/columns/schrijven-is-schrappen
image: images/rode-pen.jpg
image_alt: Een rode pen op een manuscript
date: 2024-03-01
---

# Schrijven is schrappen

Een **vette** opening met een [link](https://example.nl/x) en `code`,
*nadruk* en _meer nadruk_.

## Drie regels

- Eerste **regel**
- Tweede regel
  - genest

1. Een
2. Twee

> Citaat: “weglaten is kiezen”.

Marieke de Wit ([@mariekeschrijft](https://example.nl/@mariekeschrijft))

Marieke is schrijfdocent.

**BESTEL NU!** Van € 24,99 voor € 19,99.
"""


def test_markdown_front_matter_supplies_all_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "schrappen.md", MARKDOWN_COLUMN)

    column = read_column(path)

    assert column == Column(
        path=path,
        title="Schrijven is schrappen",
        label="Opinie",
        blocks=(
            Block("paragraph", text="Een vette opening met een link en code, nadruk en meer nadruk."),
            Block("heading", text="Drie regels"),
            Block("bullets", items=("Eerste regel", "Tweede regel", "genest")),
            Block("bullets", items=("Een", "Twee")),
            Block("paragraph", text="Citaat: “weglaten is kiezen”."),
        ),
        author_name="Marieke de Wit",
        author_handle="mariekeschrijft",
        author_bio="Marieke is schrijfdocent.",
        author="marieke-de-wit",
        url="https://example.nl/columns/schrijven-is-schrappen",
        image="images/rode-pen.jpg",
        image_alt="Een rode pen op een manuscript",
    )


def test_markdown_title_and_label_from_first_heading() -> None:
    text = "Inleidende zin.\n\n# [Column] De kunst van het weglaten\n\nTekst.\n\n# Tweede kop\n"

    column = parse_markdown(text, Path("c.md"))

    assert column.title == "De kunst van het weglaten"
    assert column.label == "Column"
    assert column.blocks == (
        Block("paragraph", text="Inleidende zin."),
        Block("paragraph", text="Tekst."),
        Block("heading", text="Tweede kop"),
    )
    assert (column.author, column.url, column.image, column.image_alt, column.author_name) == (None,) * 5


def test_markdown_front_matter_title_label_prefix_and_numeric_title() -> None:
    column = parse_markdown("---\ntitle: 1984\n---\nTekst.\n", Path("c.md"))
    assert (column.title, column.label) == ("1984", None)

    column = parse_markdown("---\ntitle: '[Column]  Kort'\n---\nTekst.\n", Path("c.md"))
    assert (column.title, column.label) == ("Kort", "Column")


def test_markdown_inline_markup_is_reduced_to_text() -> None:
    text = (
        '# T\n\n**Vet**, *schuin*, [de link](https://example.nl "titel") en `x = 1`;\n'
        "een softbreak,  \neen hardbreak ![plaatje](p.png) &amp; <b>html</b> klaar.\n"
    )

    column = parse_markdown(text, Path("c.md"))

    assert column.blocks == (
        Block("paragraph", text="Vet, schuin, de link en x = 1; een softbreak, een hardbreak & html klaar."),
    )


def test_markdown_byline_with_bio_in_the_same_paragraph() -> None:
    text = "# T\n\nTekst.\n\nAnna Bakker (@anna)\nAnna schrijft.\n\nBESTEL NU!\n"

    column = parse_markdown(text, Path("c.md"))

    assert column.blocks == (Block("paragraph", text="Tekst."),)
    assert (column.author_name, column.author_handle, column.author_bio) == (
        "Anna Bakker",
        "anna",
        "Anna schrijft.",
    )


def test_markdown_unknown_front_matter_key_names_line_and_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, "c.md", "---\ntitle: T\nlabel: Column\nauhtor: marieke\n---\nTekst.\n")

    with pytest.raises(NewsletterError) as info:
        read_column(path)

    error = info.value
    assert (error.path, error.line, error.field) == (path, 4, "auhtor")
    assert error.message == "unknown front matter key 'auhtor'"
    assert error.hint == "did you mean 'author'?"


def test_markdown_unknown_far_off_key_lists_known_keys() -> None:
    with pytest.raises(NewsletterError) as info:
        parse_markdown("---\nzzz: 1\n---\nTekst.\n", Path("c.md"))

    assert info.value.line == 2
    assert info.value.hint == "known keys: author, date, image, image_alt, label, title, url"


def test_markdown_broken_front_matter_yaml_names_line() -> None:
    with pytest.raises(NewsletterError) as info:
        parse_markdown("---\ntitle: T\nlabel: Column\nurl: a: b\n---\nTekst.\n", Path("c.md"))

    assert info.value.line == 4
    assert info.value.message == "front matter is not valid YAML: mapping values are not allowed here"


def test_markdown_front_matter_must_be_a_mapping() -> None:
    with pytest.raises(NewsletterError) as info:
        parse_markdown("---\n- title\n- label\n---\nTekst.\n", Path("c.md"))

    assert (info.value.line, info.value.message) == (2, "front matter must be 'key: value' lines")


def test_markdown_unclosed_front_matter() -> None:
    with pytest.raises(NewsletterError) as info:
        parse_markdown("---\ntitle: T\n\nTekst.\n", Path("c.md"))

    assert (info.value.line, info.value.message) == (1, "front matter is not closed")


def test_markdown_without_title_is_an_error() -> None:
    with pytest.raises(NewsletterError) as info:
        parse_markdown("---\nlabel: Column\n---\n## Geen hoofdtitel\n\nTekst.\n", Path("c.md"))

    assert (info.value.field, info.value.message) == ("title", "column has no title")


# --- reading errors ----------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bestaat-niet.md"

    with pytest.raises(NewsletterError) as info:
        read_column(path)

    assert (info.value.path, info.value.field, info.value.message) == (path, None, "column file not found")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.txt", "Titel\n\nCafé.\n".encode("latin-1"))

    with pytest.raises(NewsletterError) as info:
        read_column(path)

    assert (info.value.path, info.value.line, info.value.message) == (
        path,
        3,
        "column file is not UTF-8 text",
    )


def test_a_control_character_is_refused_with_its_line(tmp_path: Path) -> None:
    """Pasted from a word processor: invisible in the editor, and MRML fails on it without saying where."""
    path = write(tmp_path, "column.txt", b"Titel\n\nEen regel\x0bmet een verticale tab.\n")

    with pytest.raises(NewsletterError) as info:
        read_column(path)

    assert (info.value.path, info.value.line, info.value.message) == (
        path,
        3,
        "column file contains a control character (U+000B)",
    )


# --- excerpt -----------------------------------------------------------------------------------------


def paragraphs(*texts: str) -> list[Block]:
    return [Block("paragraph", text=text) for text in texts]


def test_excerpt_short_text_is_unchanged_and_skips_headings_and_bullets() -> None:
    blocks = [
        Block("heading", text="Kop"),
        *paragraphs("Eén zin. Nog een zin!"),
        Block("bullets", items=("lijst",)),
        *paragraphs("Tweede alinea zonder punt"),
    ]

    assert make_excerpt(blocks) == "Eén zin. Nog een zin! Tweede alinea zonder punt"


def test_excerpt_cuts_at_sentence_boundary_and_replaces_full_stop() -> None:
    blocks = paragraphs("Dit is de eerste zin. Dit is de tweede zin. En dit is de derde zin.")

    assert make_excerpt(blocks, words=10) == "Dit is de eerste zin. Dit is de tweede zin…"
    assert make_excerpt(blocks, words=15) == "Dit is de eerste zin. Dit is de tweede zin…"
    assert (
        make_excerpt(blocks, words=16)
        == "Dit is de eerste zin. Dit is de tweede zin. En dit is de derde zin."
    )


def test_excerpt_question_and_exclamation_get_spaced_ellipsis() -> None:
    assert make_excerpt(paragraphs("Wat doe je dan? Je schrapt alles wat overbodig is."), words=5) == (
        "Wat doe je dan? …"
    )
    assert make_excerpt(paragraphs("Schrap! Schrap alles wat overbodig is."), words=3) == "Schrap! …"


def test_excerpt_closing_quote_after_full_stop() -> None:
    blocks = paragraphs("Hij zei: “Schrappen is schrijven.” Daarna zweeg hij lang.")

    assert make_excerpt(blocks, words=5) == "Hij zei: “Schrappen is schrijven.” …"


def test_excerpt_keeps_typography() -> None:
    text = "Het ‘weglaten’ – zo noemt ze het – is een kunst… Maar wie durft dat nog?"

    assert make_excerpt(paragraphs(text), words=14) == text
    assert make_excerpt(paragraphs(text), words=13) == "Het ‘weglaten’ – zo noemt ze het – is een kunst…"


def test_excerpt_sentence_boundary_at_paragraph_end() -> None:
    blocks = paragraphs("Korte alinea.", "Nog een alinea. En nog een zin die niet meer past.")

    assert make_excerpt(blocks, words=5) == "Korte alinea. Nog een alinea…"
    assert make_excerpt(paragraphs("Alinea zonder punt", "Tweede alinea."), words=3) == "Alinea zonder punt…"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (1, "Onvoorstelbaar…"),
        (3, "Onvoorstelbaar lange openingszinnen…"),
        (5, "Onvoorstelbaar lange openingszinnen, vol bijzinnen…"),
    ],
)
def test_excerpt_first_sentence_longer_than_limit_is_cut_between_words(words: int, expected: str) -> None:
    text = "Onvoorstelbaar lange openingszinnen, vol bijzinnen en uitweidingen, zijn typisch. Kort."

    assert make_excerpt(paragraphs(text), words=words) == expected


def test_excerpt_dashes_do_not_count_as_words_and_are_not_left_dangling() -> None:
    blocks = paragraphs("Schrijven – zeker in een column – is schrappen en nog eens schrappen.")

    assert make_excerpt(blocks, words=1) == "Schrijven…"
    assert make_excerpt(blocks, words=2) == "Schrijven – zeker…"
    assert make_excerpt(blocks, words=5) == "Schrijven – zeker in een column…"


def test_excerpt_abbreviation_is_not_a_sentence_end() -> None:
    blocks = paragraphs("Dat zei o.a. Jan de Vries, de hoofdredacteur. Hij had gelijk.")

    assert make_excerpt(blocks, words=5) == "Dat zei o.a. Jan de…"
    assert make_excerpt(blocks, words=8) == "Dat zei o.a. Jan de Vries, de hoofdredacteur…"


@pytest.mark.parametrize(
    "abbreviation",
    [
        *("o.a.", "bijv.", "d.w.z.", "m.a.w.", "ca.", "Dr.", "mr.", "mevr.", "drs.", "Prof."),
        *("e.g.", "i.e.", "etc.", "nr.", "blz.", "J.", "J.P."),
    ],
)
def test_excerpt_does_not_split_after_abbreviations_or_initials(abbreviation: str) -> None:
    blocks = paragraphs(f"Zie {abbreviation} Hoofdstuk twee voor meer. Tweede zin hier.")

    assert make_excerpt(blocks, words=3) == f"Zie {abbreviation} Hoofdstuk…"


def test_excerpt_does_not_split_before_lowercase() -> None:
    blocks = paragraphs("Hij zei nee. en toen ging hij. Daarna niets.")

    assert make_excerpt(blocks, words=5) == "Hij zei nee. en toen…"
    assert make_excerpt(blocks, words=7) == "Hij zei nee. en toen ging hij…"


def test_excerpt_splits_before_digit_and_opening_quote() -> None:
    assert make_excerpt(paragraphs("Het was 2023. 2024 werd beter."), words=3) == "Het was 2023…"
    assert make_excerpt(paragraphs("Ze keek op. “Nee,” zei ze."), words=3) == "Ze keek op…"


def test_excerpt_uses_bullets_when_there_are_no_paragraphs() -> None:
    blocks = [
        Block("heading", text="Drie tips"),
        Block("bullets", items=("Minder vergaderen.", "Meer schrijven.", "Vaker schrappen.")),
    ]

    assert make_excerpt(blocks, words=4) == "Minder vergaderen. Meer schrijven…"
    assert make_excerpt(blocks) == "Minder vergaderen. Meer schrijven. Vaker schrappen."


def test_excerpt_of_column_read_from_file(tmp_path: Path) -> None:
    column = read_column(write(tmp_path, "weglaten.txt", BLOG_EXPORT))

    assert make_excerpt(column.blocks, words=20) == (
        "Elke schrijver kent het moment: de tekst is af, maar hij is te lang. Wat doe je dan? Je schrapt…"
    )


def test_excerpt_without_text_is_empty() -> None:
    assert make_excerpt([Block("heading", text="Alleen een kop")]) == ""


@pytest.mark.parametrize("words", [0, -1])
def test_excerpt_rejects_non_positive_word_limit(words: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        make_excerpt(paragraphs("Tekst."), words=words)
