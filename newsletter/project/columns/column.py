"""What every column reader produces, and the text rules both formats share.

A column is reduced to the blocks a teaser needs (headings, paragraphs, bullet lists) and the byline
facts at its end; readers differ only in how they find those in their format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from newsletter.errors import NewsletterError

CLOSING_QUOTES = "’”»\"')]"

LABEL = re.compile(r"\[\s*(?P<label>[^\[\]\s][^\[\]]*?)\s*\]\s*(?P<title>.*)", re.DOTALL)
_ASCII_SPACE = re.compile(r"[ \t\r\n]+")


@dataclass(frozen=True)
class Block:
    kind: Literal["heading", "paragraph", "bullets"]
    text: str = ""
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Promotion:
    """The book a blog promotes after a column ("Boek <title> met <co-authors>", "BESTEL NU!").

    `title` is None for an order line without a book line: it still ends the column."""

    line: str
    title: str | None = None
    co_authors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Column:
    path: Path
    title: str
    label: str | None
    blocks: tuple[Block, ...]
    author_name: str | None
    author_handle: str | None
    author_bio: str | None
    author: str | None
    url: str | None
    image: str | None
    image_alt: str | None
    # What the reader guessed and dropped (page chrome above the title), for the commands to print.
    warnings: tuple[str, ...] = ()
    # The book the blog promoted after the column (cut from it); `newsletter new` sells that book.
    promotion: Promotion | None = None
    # The lines of the file (0-based, line endings unified) that are page chrome, dropped above the
    # title: `newsletter new` leaves them out of its copy, so that no build warns about them again.
    chrome_lines: range = range(0)


def normalise(text: str) -> str:
    """Blog exports come from Windows editors too: drop the BOM and unify line endings."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def squash(text: str) -> str:
    """Collapse ASCII whitespace only, so that no-break spaces (as in '€ 19,99') survive."""
    return _ASCII_SPACE.sub(" ", text).strip(" ")


def split_label(title: str, path: Path) -> tuple[str | None, str]:
    """Blogs put the rubric in the title ('[Column] ...'); the newsletter shows it separately."""
    title = squash(title)
    match = LABEL.fullmatch(title)
    if match is None:
        return None, title
    label, rest = match.group("label"), match.group("title").strip()
    if not rest:
        raise NewsletterError(
            f"column title is only the label [{label}]",
            path=path,
            field="title",
            hint="write the title after the label, e.g. '[Column] De kunst van het weglaten'",
        )
    return label, rest


def no_text(path: Path) -> NewsletterError:
    return NewsletterError("column has no text", path=path, hint="write the column below its title")
