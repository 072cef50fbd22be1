"""Columns (opinion pieces) as the newsletter teases them: title, body blocks, author and an excerpt.

Columns arrive either as Markdown with front matter (written for the tool, `markdown.py`) or as plain
text exported from a blog (`text.py`). Blog exports start with page chrome (`chrome.py`) and end
with a byline, a bio and often a book promotion; only the column itself may end up in a teaser, so
the title is chosen below the chrome and the body stops at the byline (`byline.py`) or the
promotion (`promotion.py`), which `newsletter new` uses to find the book. `excerpt.py` makes the
teaser's excerpt from the blocks either reader found.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.files import read_user_text
from newsletter.project.columns.column import Block, Column, Promotion, normalise
from newsletter.project.columns.excerpt import make_excerpt, make_preheader
from newsletter.project.columns.markdown import parse_markdown
from newsletter.project.columns.text import parse_plain_text
from newsletter.project.validation import CONTROL_CHARACTERS

__all__ = [
    "Block",
    "Column",
    "ColumnFile",
    "Promotion",
    "make_excerpt",
    "make_preheader",
    "parse_markdown",
    "parse_plain_text",
    "read_column",
    "read_column_file",
]

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})


def read_column(path: Path, *, site_name: str | None = None) -> Column:
    """Read a column file; Markdown gets front matter, anything else is treated as a blog export.

    `site_name` is the brand's name from the settings: blog pages repeat it above the title, and
    the readers drop it there as page chrome (see `chrome.py`)."""
    return _parse(_read_text(path), path, site_name)


@dataclass(frozen=True)
class ColumnFile:
    """A column with its file's text (line endings unified), and that text without the page chrome
    above the title when it could be left out (`cleaned`)."""

    column: Column
    text: str
    cleaned: bool = False


def read_column_file(path: Path, *, site_name: str | None = None) -> ColumnFile:
    """Read a column for `newsletter new`, which writes `text` into columns/: without the chrome,
    every later build reads the column as this one, without warning about chrome again.

    The chrome stays when the text without it would not read as the same column (another title, or
    chrome again): a repeated warning is better than a column that changed unseen."""
    text = _read_text(path)
    column = _parse(text, path, site_name)
    whole = normalise(text)
    if not column.chrome_lines:
        return ColumnFile(column, whole)
    lines = whole.split("\n")
    del lines[column.chrome_lines.start : column.chrome_lines.stop]
    cleaned = "\n".join(lines)
    again = _parse(cleaned, path, site_name)
    if again.warnings or _without_chrome(again) != _without_chrome(column):
        return ColumnFile(column, whole)
    return ColumnFile(column, cleaned, cleaned=True)


def _without_chrome(column: Column) -> Column:
    return replace(column, warnings=(), chrome_lines=range(0))


def _parse(text: str, path: Path, site_name: str | None) -> Column:
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        return parse_markdown(text, path, site_name=site_name)
    return parse_plain_text(text, path, site_name=site_name)


def _read_text(path: Path) -> str:
    """Control characters are refused here, with their line: MRML fails on some of them later without
    naming the file, and they are invisible in most editors."""
    text = read_user_text(path, what="column file", missing_hint="check the column path in the campaign")
    if found := CONTROL_CHARACTERS.search(text):
        raise NewsletterError(
            f"column file contains a control character (U+{ord(found.group()):04X})",
            path=path,
            line=text.count("\n", 0, found.start()) + 1,
            hint="remove it; it is invisible in most editors, and no email can show it",
        )
    return text
