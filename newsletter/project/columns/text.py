"""Plain-text columns, as blogs export them: a title line, blank-line separated blocks, a byline.

Plain text has no markup, so headings and bullet lists are recognised by how they look; the page
chrome above the title (`chrome.py`), the byline and bio, and the book promotion (`promotion.py`)
belong to the blog, not to the column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from newsletter.project.columns.byline import Byline, match_byline
from newsletter.project.columns.chrome import choose_title, line_candidates
from newsletter.project.columns.column import (
    CLOSING_QUOTES,
    Block,
    Column,
    Promotion,
    no_text,
    normalise,
    split_label,
    squash,
)
from newsletter.project.columns.promotion import find_promotion, first_book

# A short line ending in one of these is a sentence, not a heading. "?" is not among them: a short
# question on its own line ("Waar begin je?") is how many columnists write a section heading.
SENTENCE_PUNCTUATION = ".!…:;,"

HEADING_MAX_WORDS = 10
HEADING_MAX_CHARS = 80

_BULLET = re.compile(r"[-–•*]\s+(?P<item>\S.*)")


def parse_plain_text(text: str, path: Path, *, site_name: str | None = None) -> Column:
    """Parse a blog export: page chrome, a title line, blank-line separated blocks, a byline that
    ends the column and a book promotion; `site_name` (the brand) is how the site names itself."""
    lines = normalise(text).split("\n")
    title_at, warning = _find_title(lines, site_name)
    if title_at is None:
        raise no_text(path)
    label, title = split_label(lines[title_at], path)
    body, byline, promotion = _cut_text_at_byline(_group_blocks(lines[title_at + 1 :]))
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
        warnings=(warning,) if warning else (),
        promotion=promotion,
        chrome_lines=range(title_at) if warning else range(0),
    )


def _find_title(lines: Sequence[str], site_name: str | None) -> tuple[int | None, str | None]:
    """The index of the title line and the warning for the chrome above it (see chrome.py)."""
    found = line_candidates(lines)
    if not found:
        return None, None
    at = [index for index, _ in found]
    choice = choose_title([candidate for _, candidate in found], site_name)
    if choice is None:  # no rule applies: the first line, as it always was
        return at[0], None
    return at[choice.index], choice.warning()


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


def _cut_text_at_byline(blocks: list[list[str]]) -> tuple[list[list[str]], Byline, Promotion | None]:
    """The body ends at the byline or at a book promotion, whichever comes first; the bio ends at a
    promotion too. Everything after the bio (promotions, prices) belongs to the blog."""
    for number, block in enumerate(blocks):
        for index, line in enumerate(block):
            found = match_byline(line)
            if found is None:
                continue
            body = [*blocks[:number], block[:index]] if index else blocks[:number]
            body, promotion = _cut_at_promotion(body)
            bio_block = block[index + 1 :] or (blocks[number + 1] if number + 1 < len(blocks) else [])
            bio_lines = [line for kept in _cut_at_promotion([bio_block], blurb=False)[0] for line in kept]
            after = _cut_at_promotion([block[index + 1 :], *blocks[number + 1 :]])[1]
            bio = squash(" ".join(line.strip() for line in bio_lines)) or None
            return body, Byline(name=found[0], handle=found[1], bio=bio), first_book(promotion, after)
    body, promotion = _cut_at_promotion(blocks)
    return body, Byline(), first_book(promotion)


def _cut_at_promotion(
    blocks: list[list[str]], *, blurb: bool = True
) -> tuple[list[list[str]], Promotion | None]:
    """Cut the blocks where a book promotion starts. In the body an order line alone takes its whole
    block with it (`blurb`): the blurb that leads up to "BESTEL NU!" shares its block."""
    flat = [(number, index) for number, block in enumerate(blocks) for index in range(len(block))]
    found = find_promotion([blocks[number][index] for number, index in flat])
    if found is None:
        return blocks, None
    number, index = flat[found[0]]
    if blurb and found[1].title is None:
        index = 0
    kept = [*blocks[:number], blocks[number][:index]] if index else blocks[:number]
    return kept, found[1]


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
