"""Columns (opinion pieces) as the newsletter teases them: title, body blocks, author and an excerpt.

Columns arrive either as Markdown with front matter (written for the tool) or as plain text exported
from a blog. Blog exports end with a byline, a bio and often a book promotion; only the column itself
may end up in a teaser, so the byline is where the body stops.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml

if TYPE_CHECKING:
    from markdown_it.token import Token

from newsletter.errors import NewsletterError, did_you_mean
from newsletter.project.validation import CONTROL_CHARACTERS

FRONT_MATTER_KEYS = frozenset({"title", "label", "author", "url", "image", "image_alt", "date"})
# Accepted so that blog-style front matter does not fail, but a teaser has no use for it.
IGNORED_FRONT_MATTER_KEYS = frozenset({"date"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})

ABBREVIATIONS = frozenset(
    {
        "o.a.",
        "bijv.",
        "d.w.z.",
        "m.a.w.",
        "ca.",
        "dr.",
        "mr.",
        "mevr.",
        "drs.",
        "prof.",
        "e.g.",
        "i.e.",
        "etc.",
        "nr.",
        "blz.",
    }
)

OPENING_QUOTES = "“‘„«\"'(["
CLOSING_QUOTES = "’”»\"')]"
# A short line ending in one of these is a sentence, not a heading. "?" is not among them: a short
# question on its own line ("Waar begin je?") is how many columnists write a section heading.
SENTENCE_PUNCTUATION = ".!…:;,"
# Trailing characters that make a cut-off text look broken when an ellipsis follows them.
DANGLING_PUNCTUATION = ",;:–—- \t"

HEADING_MAX_WORDS = 10
HEADING_MAX_CHARS = 80

_LABEL = re.compile(r"\[\s*(?P<label>[^\[\]\s][^\[\]]*?)\s*\]\s*(?P<title>.*)", re.DOTALL)
_BYLINE = re.compile(
    r"(?P<name>[^\W\d_](?:[^\W\d_]|[ .'’\-])*?)\s*\(@(?P<handle>[A-Za-z0-9_.]+)\)",
)
_BULLET = re.compile(r"[-–•]\s+(?P<item>\S.*)")
_SENTENCE_END = re.compile(
    r"(?P<stop>[.!?…]+)[" + re.escape(CLOSING_QUOTES) + r"]*(?=\s+(?P<next>\S))",
)
_INITIALS = re.compile(r"(?:[^\W\d_]\.){2,}")
_ASCII_SPACE = re.compile(r"[ \t\r\n]+")


@dataclass(frozen=True)
class Block:
    kind: Literal["heading", "paragraph", "bullets"]
    text: str = ""
    items: tuple[str, ...] = ()


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


@dataclass(frozen=True)
class _Byline:
    """Who wrote the column, as the byline at its end says; all None when there is no byline."""

    name: str | None = None
    handle: str | None = None
    bio: str | None = None


@dataclass(frozen=True)
class _Part:
    """A Markdown block before the byline cut; lines and level are needed to find the byline and title."""

    block: Block
    lines: tuple[str, ...] = ()
    level: int = 0


@dataclass(frozen=True)
class _FrontMatter:
    values: dict[str, str]
    body: str


# --- reading -----------------------------------------------------------------------------------------


def read_column(path: Path) -> Column:
    """Read a column file; Markdown gets front matter, anything else is treated as a blog export."""
    text = _read_text(path)
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        return parse_markdown(text, path)
    return parse_plain_text(text, path)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NewsletterError(
            "column file not found", path=path, hint="check the column path in the campaign"
        ) from None
    except OSError as exc:
        raise NewsletterError(f"cannot read column file: {exc.strerror or exc}", path=path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NewsletterError(
            "column file is not UTF-8 text",
            path=path,
            line=data[: exc.start].count(b"\n") + 1,
            hint="save the file as UTF-8",
        ) from None
    if found := CONTROL_CHARACTERS.search(text):
        raise NewsletterError(
            f"column file contains a control character (U+{ord(found.group()):04X})",
            path=path,
            line=text.count("\n", 0, found.start()) + 1,
            hint="remove it; it is invisible in most editors, and no email can show it",
        )
    return text


def _normalise(text: str) -> str:
    """Blog exports come from Windows editors too: drop the BOM and unify line endings."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _squash(text: str) -> str:
    """Collapse ASCII whitespace only, so that no-break spaces (as in '€ 19,99') survive."""
    return _ASCII_SPACE.sub(" ", text).strip(" ")


def _split_label(title: str, path: Path) -> tuple[str | None, str]:
    """Blogs put the rubric in the title ('[Column] ...'); the newsletter shows it separately."""
    title = _squash(title)
    match = _LABEL.fullmatch(title)
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


def _match_byline(line: str) -> tuple[str, str] | None:
    match = _BYLINE.fullmatch(line.strip())
    if match is None:
        return None
    return match.group("name").strip(), match.group("handle")


def _no_text(path: Path) -> NewsletterError:
    return NewsletterError("column has no text", path=path, hint="write the column below its title")


# --- plain text --------------------------------------------------------------------------------------


def parse_plain_text(text: str, path: Path) -> Column:
    """Parse a blog export: title line, blank-line separated blocks, and a byline that ends the column."""
    lines = _normalise(text).split("\n")
    first = next((index for index, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise _no_text(path)
    label, title = _split_label(lines[first], path)
    body, byline = _cut_text_at_byline(_group_blocks(lines[first + 1 :]))
    blocks = tuple(block for lines_ in body for block in _text_blocks(lines_))
    if not blocks:
        raise _no_text(path)
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


def _cut_text_at_byline(blocks: list[list[str]]) -> tuple[list[list[str]], _Byline]:
    """Everything after the bio (book promotions, prices) belongs to the blog, not to the column."""
    for number, block in enumerate(blocks):
        for index, line in enumerate(block):
            found = _match_byline(line)
            if found is None:
                continue
            body = [*blocks[:number], block[:index]] if index else blocks[:number]
            bio_lines = block[index + 1 :] or (blocks[number + 1] if number + 1 < len(blocks) else [])
            bio = _squash(" ".join(line.strip() for line in bio_lines)) or None
            return body, _Byline(name=found[0], handle=found[1], bio=bio)
    return blocks, _Byline()


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
                yield Block("bullets", items=tuple(_squash(item) for item in items))
                items = []
            paragraph.append(line)
    if paragraph:
        yield _paragraph_or_heading(paragraph)
    if items:
        yield Block("bullets", items=tuple(_squash(item) for item in items))


def _paragraph_or_heading(lines: Sequence[str]) -> Block:
    text = _squash(" ".join(lines))
    if len(lines) == 1 and _looks_like_heading(text):
        return Block("heading", text=text)
    return Block("paragraph", text=text)


def _looks_like_heading(line: str) -> bool:
    """Plain text has no markup for headings; a short line that is not a sentence is the best signal."""
    if len(line) > HEADING_MAX_CHARS or len(line.split()) > HEADING_MAX_WORDS:
        return False
    unquoted = line.rstrip(CLOSING_QUOTES)
    return bool(unquoted) and unquoted[-1] not in SENTENCE_PUNCTUATION


# --- Markdown ----------------------------------------------------------------------------------------


def parse_markdown(text: str, path: Path) -> Column:
    """Parse a Markdown column; front matter wins over what the body says (title, label)."""
    front = _split_front_matter(_normalise(text), path)
    values = front.values
    parts = _markdown_parts(front.body)
    raw_title = values.get("title")
    if raw_title is None:
        raw_title, parts = _take_heading_title(parts)
    if raw_title is None:
        raise NewsletterError(
            "column has no title",
            path=path,
            field="title",
            hint="add 'title:' to the front matter or start the text with '# Title'",
        )
    prefix_label, title = _split_label(raw_title, path)
    parts = _drop_repeated_title(parts, title, path)
    body, byline = _cut_parts_at_byline(parts)
    if not body:
        raise _no_text(path)
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
    )


def _split_front_matter(text: str, path: Path) -> _FrontMatter:
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return _FrontMatter(values={}, body=text)
    end = next((index for index in range(1, len(lines)) if lines[index].rstrip() == "---"), None)
    if end is None:
        raise NewsletterError(
            "front matter is not closed",
            path=path,
            line=1,
            hint="end the front matter with a line '---'",
        )
    values = _front_matter_values("\n".join(lines[1:end]), path)
    return _FrontMatter(values=values, body="\n".join(lines[end + 1 :]))


def _front_matter_values(source: str, path: Path) -> dict[str, str]:
    """Read front matter as nodes rather than objects: keys keep their line, values stay as written.

    Staying with the written text keeps `title: 1984` a title instead of a number, and `yes:` a key.
    """
    # Front matter starts on line 2 of the file; YAML marks are 0-based.
    offset = 2
    node = _compose(source, path, offset)
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise NewsletterError(
            "front matter must be 'key: value' lines",
            path=path,
            line=node.start_mark.line + offset,
            hint="for example 'title: De kunst van het weglaten'",
        )
    values: dict[str, str] = {}
    seen: set[str] = set()
    for key_node, value_node in node.value:
        key = _front_matter_key(key_node, seen, path, offset)
        seen.add(key)
        value = _front_matter_value(key, value_node, path, offset)
        if value is not None and key not in IGNORED_FRONT_MATTER_KEYS:
            values[key] = value
    return values


def _compose(source: str, path: Path, offset: int) -> yaml.Node | None:
    try:
        return yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise NewsletterError(
            f"front matter is not valid YAML: {exc.problem or exc.context}",
            path=path,
            line=mark.line + offset if mark is not None else 1,
            hint="write one 'key: value' per line and quote values that contain ': '",
        ) from None
    except yaml.YAMLError as exc:
        raise NewsletterError(f"front matter is not valid YAML: {exc}", path=path, line=1) from None


def _front_matter_key(node: yaml.Node, seen: set[str], path: Path, offset: int) -> str:
    line = node.start_mark.line + offset
    if not isinstance(node, yaml.ScalarNode):
        raise NewsletterError("front matter keys must be plain words", path=path, line=line)
    key = str(node.value)
    if key not in FRONT_MATTER_KEYS:
        raise NewsletterError(
            f"unknown front matter key '{key}'",
            path=path,
            line=line,
            field=key,
            hint=did_you_mean(key, FRONT_MATTER_KEYS)
            or f"known keys: {', '.join(sorted(FRONT_MATTER_KEYS))}",
        )
    if key in seen:
        raise NewsletterError(f"front matter key '{key}' appears twice", path=path, line=line, field=key)
    return key


def _front_matter_value(key: str, node: yaml.Node, path: Path, offset: int) -> str | None:
    if key in IGNORED_FRONT_MATTER_KEYS:
        return None
    if not isinstance(node, yaml.ScalarNode):
        raise NewsletterError(
            "must be text",
            path=path,
            line=node.start_mark.line + offset,
            field=key,
            hint=f"write it on one line, e.g. '{key}: ...'",
        )
    if node.tag == "tag:yaml.org,2002:null":
        return None
    return _squash(str(node.value)) or None


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
    if opening.type == "heading_open":
        return _Part(Block("heading", text=text), lines=lines, level=int(opening.tag[1:]))
    return _Part(Block("paragraph", text=text), lines=lines)


def _inline_lines(token: Token) -> tuple[str, ...]:
    """Reduce inline markup to the words a reader sees; line breaks are kept to find a byline line."""
    lines: list[str] = [""]
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            lines[-1] += child.content
        elif child.type in ("softbreak", "hardbreak"):
            lines.append("")
    return tuple(squashed for line in lines if (squashed := _squash(line)))


def _take_heading_title(parts: list[_Part]) -> tuple[str | None, list[_Part]]:
    for index, part in enumerate(parts):
        if part.level == 1:
            return part.block.text, [*parts[:index], *parts[index + 1 :]]
    return None, parts


def _drop_repeated_title(parts: list[_Part], title: str, path: Path) -> list[_Part]:
    """Writers often repeat the front matter title as '# Title'; it must not show up as a heading."""
    if parts and parts[0].level == 1 and _split_label(parts[0].block.text, path)[1] == title:
        return parts[1:]
    return parts


def _cut_parts_at_byline(parts: list[_Part]) -> tuple[list[_Part], _Byline]:
    for index, part in enumerate(parts):
        if part.block.kind != "paragraph" or not part.lines:
            continue
        found = _match_byline(part.lines[0])
        if found is None:
            continue
        bio: str | None = " ".join(part.lines[1:]) or None
        if bio is None and index + 1 < len(parts) and parts[index + 1].block.kind == "paragraph":
            bio = parts[index + 1].block.text
        return parts[:index], _Byline(name=found[0], handle=found[1], bio=bio)
    return parts, _Byline()


# --- excerpt -----------------------------------------------------------------------------------------


def make_excerpt(blocks: Sequence[Block], words: int = 50) -> str:
    """Tease with whole sentences so the excerpt reads as the writer wrote it, typography included."""
    if words < 1:
        raise ValueError(f"words must be at least 1, got {words}")
    units = _excerpt_units(blocks)
    full = " ".join(units)
    if _count_words(full) <= words:
        return full
    kept = _whole_sentences(units, words)
    if kept:
        return _with_ellipsis(kept)
    first = units[0][: _sentence_ends(units[0])[0]]
    return _with_ellipsis(_cut_words(first, words))


def _excerpt_units(blocks: Sequence[Block]) -> list[str]:
    """Headings make no sense mid-excerpt; bullets only stand in when the column has no prose."""
    paragraphs = [block.text.strip() for block in blocks if block.kind == "paragraph"]
    units = [text for text in paragraphs if text]
    if units:
        return units
    items = [item.strip() for block in blocks if block.kind == "bullets" for item in block.items]
    return [item for item in items if item]


def _count_words(text: str) -> int:
    """A lone dash or quote is not a word for the reader, so it does not count against the limit."""
    return sum(1 for token in text.split() if _is_word(token))


def _is_word(token: str) -> bool:
    return any(char.isalnum() for char in token)


def _sentence_ends(text: str) -> list[int]:
    """Offsets just after each sentence (closing quotes included); the text end is always one."""
    ends: list[int] = []
    for match in _SENTENCE_END.finditer(text):
        if not _starts_sentence(match.group("next")):
            continue
        if match.group("stop") == "." and _is_abbreviation(text[: match.end("stop")]):
            continue
        ends.append(match.end())
    if not ends or ends[-1] < len(text):
        ends.append(len(text))
    return ends


def _starts_sentence(char: str) -> bool:
    return char.isupper() or char.isdigit() or char in OPENING_QUOTES


def _is_abbreviation(text_to_stop: str) -> bool:
    """'o.a. Jan' or 'J. Jansen' continue the sentence even though a capital follows the full stop."""
    token = text_to_stop.split()[-1].lstrip(OPENING_QUOTES)
    if token.lower() in ABBREVIATIONS or _INITIALS.fullmatch(token):
        return True
    return len(token) == 2 and token[0].isupper()


def _whole_sentences(units: Sequence[str], limit: int) -> str:
    pieces: list[str] = []
    used = 0
    for unit in units:
        start = 0
        for end in _sentence_ends(unit):
            size = _count_words(unit[start:end])
            if used + size > limit:
                if start:
                    pieces.append(unit[:start].rstrip())
                return " ".join(pieces)
            used += size
            start = end
        pieces.append(unit)
    return " ".join(pieces)


def _cut_words(sentence: str, limit: int) -> str:
    """Cut after the last whole word within the limit; never inside a word."""
    end = 0
    count = 0
    for match in re.finditer(r"\S+", sentence):
        if not _is_word(match.group()):
            continue
        if count == limit:
            break
        count += 1
        end = match.end()
    return sentence[:end]


def _with_ellipsis(text: str) -> str:
    """Mark a shortened text: '.' becomes '…', while '?', '!' and quotes keep their mark before ' …'."""
    text = text.rstrip()
    if text.endswith(("…", "...")):
        return text
    if text.endswith("."):
        return text[:-1] + "…"
    if text[-1] in "?!" or text[-1] in CLOSING_QUOTES:
        return text + " …"
    return text.rstrip(DANGLING_PUNCTUATION) + "…"
