"""Plain-text columns, as blogs export them: a title line, blank-line separated blocks, a byline.

Plain text has no markup, so headings and bullet lists are recognised by how they look; everything
after the byline (bio, book promotion, prices) belongs to the blog, not to the column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from newsletter.project.columns.byline import Byline, match_byline
from newsletter.project.columns.column import (
    CLOSING_QUOTES,
    Block,
    Column,
    no_text,
    normalise,
    split_label,
    squash,
)

# A short line ending in one of these is a sentence, not a heading. "?" is not among them: a short
# question on its own line ("Waar begin je?") is how many columnists write a section heading.
SENTENCE_PUNCTUATION = ".!…:;,"

HEADING_MAX_WORDS = 10
HEADING_MAX_CHARS = 80

_BULLET = re.compile(r"[-–•]\s+(?P<item>\S.*)")


def parse_plain_text(text: str, path: Path) -> Column:
    """Parse a blog export: title line, blank-line separated blocks, and a byline that ends the column."""
    lines = normalise(text).split("\n")
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise no_text(path)
    label, title = split_label(lines[first], path)
    body, byline = _cut_text_at_byline(_group_blocks(lines[first + 1 :]))
    blocks = tuple(block for lines_ in body for block in _text_blocks(lines_))
    if not blocks:
        raise no_text(path)
    return Column(
        path=path,
        title=title,
        label=label,
        blocks=blocks,
        author_name=byline.name,
        author_handle=byline.handle,
        author_bio=byline.bio,
        author=None,
        url=None,
        image=None,
        image_alt=None,
    )


def _group_blocks(lines: Sequence[str]) -> list[list[str]]:
    """Blank lines separate blocks; lines keep their indentation to recognise wrapped bullet items."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _cut_text_at_byline(blocks: list[list[str]]) -> tuple[list[list[str]], Byline]:
    """Everything after the bio (book promotions, prices) belongs to the blog, not to the column."""
    for number, block in enumerate(blocks):
        for index, line in enumerate(block):
            found = match_byline(line)
            if found is None:
                continue
            body = [*blocks[:number], block[:index]] if index else blocks[:number]
            bio_lines = block[index + 1 :] or (blocks[number + 1] if number + 1 < len(blocks) else [])
            bio = squash(" ".join(line.strip() for line in bio_lines)) or None
            return body, Byline(name=found[0], handle=found[1], bio=bio)
    return blocks, Byline()


def _text_blocks(lines: Sequence[str]) -> Iterator[Block]:
    """One text block may hold a lead-in sentence followed by bullets, so it can yield several blocks."""
    paragraph: list[str] = []
    items: list[str] = []
    for raw in lines:
        line = raw.strip()
        bullet = _BULLET.fullmatch(line)
        if bullet is not None:
            if paragraph:
                yield _paragraph_or_heading(paragraph)
                paragraph = []
            items.append(bullet.group("item"))
        elif items and raw[:1].isspace():
            items[-1] = f"{items[-1]} {line}"
        else:
            if items:
                yield Block("bullets", items=tuple(squash(item) for item in items))
                items = []
            paragraph.append(line)
    if paragraph:
        yield _paragraph_or_heading(paragraph)
    if items:
        yield Block("bullets", items=tuple(squash(item) for item in items))


def _paragraph_or_heading(lines: Sequence[str]) -> Block:
    text = squash(" ".join(lines))
    if len(lines) == 1 and _looks_like_heading(text):
        return Block("heading", text=text)
    return Block("paragraph", text=text)


def _looks_like_heading(line: str) -> bool:
    """Plain text has no markup for headings; a short line that is not a sentence is the best signal."""
    if len(line) > HEADING_MAX_CHARS or len(line.split()) > HEADING_MAX_WORDS:
        return False
    unquoted = line.rstrip(CLOSING_QUOTES)
    return bool(unquoted) and unquoted[-1] not in SENTENCE_PUNCTUATION
