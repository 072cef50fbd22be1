"""Columns (opinion pieces) as the newsletter teases them: title, body blocks, author and an excerpt.

Columns arrive either as Markdown with front matter (written for the tool, `markdown.py`) or as plain
text exported from a blog (`text.py`). Blog exports start with page chrome (`chrome.py`) and end
with a byline, a bio and often a book promotion; only the column itself may end up in a teaser, so
the title is chosen below the chrome and the body stops at the byline (`byline.py`) or the
promotion (`promotion.py`), which `newsletter new` uses to find the book. `excerpt.py` makes the
teaser's excerpt from the blocks either reader found.
"""

from __future__ import annotations

from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.files import read_user_text
from newsletter.project.columns.column import Block, Column, Promotion
from newsletter.project.columns.excerpt import make_excerpt
from newsletter.project.columns.markdown import parse_markdown
from newsletter.project.columns.text import parse_plain_text
from newsletter.project.validation import CONTROL_CHARACTERS

__all__ = [
    "Block",
    "Column",
    "Promotion",
    "make_excerpt",
    "parse_markdown",
    "parse_plain_text",
    "read_column",
]

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})


def read_column(path: Path, *, site_name: str | None = None) -> Column:
    """Read a column file; Markdown gets front matter, anything else is treated as a blog export.

    `site_name` is the brand's name from the settings: blog pages repeat it above the title, and
    the readers drop it there as page chrome (see `chrome.py`)."""
    text = _read_text(path)
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
