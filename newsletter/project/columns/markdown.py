"""Markdown columns, written for the tool: front matter for what the newsletter needs, then the text.

Front matter wins over what the body says (title, label); a column without it is read like a blog
post in Markdown, its first `# heading` the title and a byline paragraph the end of the body.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.errors import NewsletterError
from newsletter.project.columns.byline import Byline, match_byline
from newsletter.project.columns.chrome import Candidate, choose_title, is_label_line
from newsletter.project.columns.column import (
    Block,
    Column,
    Promotion,
    no_text,
    normalise,
    split_label,
    squash,
)
from newsletter.project.columns.front_matter import split_front_matter
from newsletter.project.columns.promotion import find_promotion, first_book

if TYPE_CHECKING:
    from markdown_it.token import Token


@dataclass(frozen=True)
class _Part:
    """A Markdown block before the byline cut; lines and level are needed to find the byline and title."""

    block: Block
    lines: tuple[str, ...] = ()
    level: int = 0
    # Where the block starts in the Markdown body (0-based): the page chrome ends above the title's.
    line: int = 0


def parse_markdown(text: str, path: Path, *, site_name: str | None = None) -> Column:
    """Parse a Markdown column; front matter wins over what the body says (title, label).

    `site_name` (the brand) is how the site names itself in page chrome above the title."""
    front = split_front_matter(normalise(text), path)
    values = front.values
    parts = _markdown_parts(front.body)
    raw_title = values.get("title")
    taken = _TakenTitle(raw_title, parts)
    if raw_title is None:
        taken = _take_title(parts, site_name)
    raw_title, parts = taken.text, taken.parts
    if raw_title is None:
        raise NewsletterError(
            "column has no title",
            path=path,
            field="title",
            hint="add 'title:' to the front matter or start the text with '# Title'",
        )
    prefix_label, title = split_label(raw_title, path)
    parts = _drop_repeated_title(parts, title, path)
    body, byline, promotion = _cut_parts_at_byline(parts)
    if not body:
        raise no_text(path)
    return Column(
        path=path,
        title=title,
        label=values.get("label", prefix_label),
        blocks=tuple(part.block for part in body),
        author_name=byline.name,
        author_handle=byline.handle,
        author_bio=byline.bio,
        author=values.get("author"),
        url=values.get("url"),
        image=values.get("image"),
        image_alt=values.get("image_alt"),
        warnings=(taken.warning,) if taken.warning else (),
        promotion=promotion,
        chrome_lines=range(front.body_line, front.body_line + taken.chrome_end),
    )


def _markdown_parts(body: str) -> list[_Part]:
    """Flatten the Markdown tree to the blocks a teaser needs; nested list items join the outer list."""
    from markdown_it import MarkdownIt  # only Markdown columns need it; plain-text builds start faster

    tokens = MarkdownIt("commonmark").parse(body)
    parts: list[_Part] = []
    items: list[list[str]] = []
    open_items: list[int] = []
    list_depth = 0
    for index, token in enumerate(tokens):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
            if list_depth == 0:
                texts = tuple(" ".join(item) for item in items if item)
                if texts:
                    parts.append(_Part(Block("bullets", items=texts)))
                items = []
        elif token.type == "list_item_open":
            items.append([])
            open_items.append(len(items) - 1)
        elif token.type == "list_item_close":
            open_items.pop()
        elif token.type == "inline":
            lines = _inline_lines(token)
            if not lines:
                continue
            if list_depth:
                items[open_items[-1]].append(" ".join(lines))
            else:
                parts.append(_inline_part(tokens[index - 1], lines))
    return parts


def _inline_part(opening: Token, lines: tuple[str, ...]) -> _Part:
    text = " ".join(lines)
    line = opening.map[0] if opening.map else 0
    if opening.type == "heading_open":
        return _Part(Block("heading", text=text), lines=lines, level=int(opening.tag[1:]), line=line)
    return _Part(Block("paragraph", text=text), lines=lines, line=line)


def _inline_lines(token: Token) -> tuple[str, ...]:
    """Reduce inline markup to the words a reader sees; line breaks are kept to find a byline line."""
    lines: list[str] = [""]
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            lines[-1] += child.content
        elif child.type in ("softbreak", "hardbreak"):
            lines.append("")
    return tuple(squashed for line in lines if (squashed := squash(line)))


@dataclass(frozen=True)
class _TakenTitle:
    """The title found in the body, the parts after it, and the page chrome dropped above it: the
    warning, and the body line where the chrome ends (0 when none was dropped)."""

    text: str | None
    parts: list[_Part]
    warning: str | None = None
    chrome_end: int = 0


def _take_title(parts: list[_Part], site_name: str | None) -> _TakenTitle:
    """Pasted from a blog page, the `# heading` or "[Column] ..." line may come after page chrome:
    that is dropped, with a warning. Otherwise the first `# heading` is the title, as written."""
    header = list(itertools.takewhile(lambda part: part.block.kind != "bullets", parts))
    candidates = [Candidate(part.lines, marked=_marks_title(part)) for part in header]
    choice = choose_title(candidates, site_name, fallback=False)
    if choice is None:
        return _TakenTitle(*_take_heading_title(parts))
    title = parts[choice.index]
    warning = choice.warning()
    chrome_end = title.line if warning else 0
    return _TakenTitle(title.block.text, parts[choice.index + 1 :], warning, chrome_end)


def _marks_title(part: _Part) -> bool:
    return part.level == 1 or (len(part.lines) == 1 and is_label_line(part.lines[0]))


def _take_heading_title(parts: list[_Part]) -> tuple[str | None, list[_Part]]:
    for index, part in enumerate(parts):
        if part.level == 1:
            return part.block.text, [*parts[:index], *parts[index + 1 :]]
    return None, parts


def _drop_repeated_title(parts: list[_Part], title: str, path: Path) -> list[_Part]:
    """Writers often repeat the front matter title as '# Title'; it must not show up as a heading."""
    if parts and parts[0].level == 1 and split_label(parts[0].block.text, path)[1] == title:
        return parts[1:]
    return parts


def _cut_parts_at_byline(parts: list[_Part]) -> tuple[list[_Part], Byline, Promotion | None]:
    """The body ends at the byline or a book promotion; the bio ends at a promotion too."""
    for index, part in enumerate(parts):
        if part.block.kind != "paragraph" or not part.lines:
            continue
        found = match_byline(part.lines[0])
        if found is None:
            continue
        body, promotion = _cut_parts_at_promotion(parts[:index])
        bio_lines = list(part.lines[1:])
        if not bio_lines and index + 1 < len(parts) and parts[index + 1].block.kind == "paragraph":
            bio_lines = list(parts[index + 1].lines)
        if (in_bio := find_promotion(bio_lines)) is not None:
            bio_lines = bio_lines[: in_bio[0]]
        after = _cut_parts_at_promotion([_Part(Block("paragraph"), part.lines[1:]), *parts[index + 1 :]])[1]
        bio = " ".join(bio_lines) or None
        return body, Byline(name=found[0], handle=found[1], bio=bio), first_book(promotion, after)
    body, promotion = _cut_parts_at_promotion(parts)
    return body, Byline(), first_book(promotion)


def _cut_parts_at_promotion(parts: list[_Part]) -> tuple[list[_Part], Promotion | None]:
    """Cut where a book promotion starts: its paragraph goes, and every part after it."""
    flat = [(number, line) for number, part in enumerate(parts) for line in part.lines]
    found = find_promotion([line for _, line in flat])
    if found is None:
        return parts, None
    return parts[: flat[found[0]][0]], found[1]
