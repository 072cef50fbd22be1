"""Markdown columns: front matter supplies the fields, the body is reduced to the blocks a teaser needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.errors import NewsletterError
from newsletter.project.columns import Block, Column, parse_markdown, read_column
from tests.column_samples import write

MARKDOWN_COLUMN = """\
---
title: "Schrijven is schrappen"
label: Opinie
author: marieke-de-wit
url: https://example.nl/columns/schrijven-is-schrappen
image: https://www.uitgeverijlindenhof.nl/images/rode-pen.jpg
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
        image="https://www.uitgeverijlindenhof.nl/images/rode-pen.jpg",
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


def test_markdown_without_title_is_an_error() -> None:
    with pytest.raises(NewsletterError) as info:
        parse_markdown("---\nlabel: Column\n---\n## Geen hoofdtitel\n\nTekst.\n", Path("c.md"))

    assert (info.value.field, info.value.message) == ("title", "column has no title")
