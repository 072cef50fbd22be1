"""The excerpt of a teaser, and the preheader `newsletter new` writes: the start of the column.

Readers decide from the excerpt whether to click, so it reads as the writer wrote it: typography
kept, never cut inside a sentence when a whole one fits, never inside a word, and with the column's
shape: its headings, paragraphs and bullet items stay apart. A preheader is one line in the inbox,
so it is cut where the writer paused (a sentence, else a clause) at a length every inbox shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from newsletter.project.columns.column import CLOSING_QUOTES, Block

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
# Trailing characters that make a cut-off text look broken when an ellipsis follows them.
DANGLING_PUNCTUATION = ",;:–—- \t"

_SENTENCE_END = re.compile(
    r"(?P<stop>[.!?…]+)[" + re.escape(CLOSING_QUOTES) + r"]*(?=\s+(?P<next>\S))",
)
_INITIALS = re.compile(r"(?:[^\W\d_]\.){2,}")


# An excerpt is text, not markup: a blank line between its paragraphs, as an `excerpt:` or `intro:`
# written in a campaign has them, and this mark before each bullet item, each its own paragraph:
# the text part keeps blank-line paragraphs apart and joins the lines within one.
BULLET = "•"
PARAGRAPH_BREAK = "\n\n"

# A preheader of at least 40 characters fills the narrowest preview lines (35-55 characters; the
# `preheader-short` check asks as much), and one of at most 100 is not cut by the widest.
PREHEADER_MIN_CHARS = 40
PREHEADER_MAX_CHARS = 100

# Where a clause ends: after a comma, semicolon or colon, or before a dash between spaces.
_CLAUSE_END = re.compile(r"[,;:](?=\s)|(?=\s[–—-]\s)")


@dataclass(frozen=True)
class _Piece:
    """A heading, a paragraph or one bullet item of the column: each a paragraph of the excerpt."""

    kind: Literal["heading", "paragraph", "item"]
    text: str

    def shown(self, text: str) -> str:
        return f"{BULLET} {text}" if self.kind == "item" else text


_Kept = tuple[_Piece, str]  # a piece and as much of its text as the excerpt keeps


def make_excerpt(blocks: Sequence[Block], words: int = 50) -> str:
    """Tease with whole sentences so the excerpt reads as the writer wrote it, typography included,
    and in the column's paragraphs and lists: run together, a list reads as one odd sentence."""
    if words < 1:
        raise ValueError(f"words must be at least 1, got {words}")
    pieces = _pieces(blocks)
    if _count_words(" ".join(piece.text for piece in pieces)) <= words:
        return _joined(_trimmed([(piece, piece.text) for piece in pieces]))
    kept = _trimmed(_whole_sentences(pieces, words))
    if kept:
        piece, text = kept[-1]
        return _joined([*kept[:-1], (piece, _with_ellipsis(text))])
    return _first_words(pieces, words)


def make_preheader(blocks: Sequence[Block]) -> str:
    """The column's opening for the inbox's preview line: whole sentences when they fit, else whole
    clauses, between PREHEADER_MIN_CHARS and PREHEADER_MAX_CHARS; cut mid-phrase, it reads as an
    error. Shorter text is taken whole (the `preheader-short` check then asks for more)."""
    text, sentence_ends = _prose(blocks)
    if len(text) <= PREHEADER_MAX_CHARS:
        return text
    for cuts in (sentence_ends, [found.end() for found in _CLAUSE_END.finditer(text)]):
        fitting = [cut for cut in cuts if _preheader_length(_with_ellipsis(text[:cut]))]
        if fitting:
            return _with_ellipsis(text[: max(fitting)])
    return _with_ellipsis(_cut_chars(text, PREHEADER_MAX_CHARS - 1))


def _preheader_length(text: str) -> bool:
    return PREHEADER_MIN_CHARS <= len(text) <= PREHEADER_MAX_CHARS


def _pieces(blocks: Sequence[Block]) -> list[_Piece]:
    pieces: list[_Piece] = []
    for block in blocks:
        if block.kind == "bullets":
            pieces += [_Piece("item", text) for item in block.items if (text := item.strip())]
        elif text := block.text.strip():
            pieces.append(_Piece(block.kind, text))
    return pieces


def _trimmed(kept: list[_Kept]) -> list[_Kept]:
    """A heading announces what follows it: at the end of an excerpt it announces nothing."""
    while kept and kept[-1][0].kind == "heading":
        kept = kept[:-1]
    return kept


def _joined(kept: Sequence[_Kept]) -> str:
    return PARAGRAPH_BREAK.join(piece.shown(text) for piece, text in kept)


def _first_words(pieces: Sequence[_Piece], words: int) -> str:
    """Not even the first sentence fits: its first words, after no heading (it would stand alone)."""
    first = next((piece for piece in pieces if piece.kind != "heading"), None)
    if first is None:
        return ""
    cut = _cut_words(first.text[: _sentence_ends(first.text)[0]], words)
    return first.shown(_with_ellipsis(cut)) if cut else ""


def _prose(blocks: Sequence[Block]) -> tuple[str, list[int]]:
    """The paragraphs as one line, with the offsets where its sentences (and paragraphs) end;
    bullet items stand in when the column has no paragraphs. Headings are no preview text."""
    pieces = _pieces(blocks)
    units = [piece.text for piece in pieces if piece.kind == "paragraph"]
    units = units or [piece.text for piece in pieces if piece.kind == "item"]
    ends: list[int] = []
    offset = 0
    for unit in units:
        ends += [offset + end for end in _sentence_ends(unit)]
        offset += len(unit) + 1
    return " ".join(units), ends


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


def _whole_sentences(pieces: Sequence[_Piece], limit: int) -> list[_Kept]:
    """The pieces up to `limit` words, the last one cut after a whole sentence; a heading is whole."""
    kept: list[_Kept] = []
    used = 0
    for piece in pieces:
        start = 0
        ends = [len(piece.text)] if piece.kind == "heading" else _sentence_ends(piece.text)
        for end in ends:
            size = _count_words(piece.text[start:end])
            if used + size > limit:
                if start:
                    kept.append((piece, piece.text[:start].rstrip()))
                return kept
            used += size
            start = end
        kept.append((piece, piece.text))
    return kept


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


def _cut_chars(text: str, limit: int) -> str:
    """Cut at the last space within `limit` characters; inside a word only when there is none."""
    space = text.rfind(" ", 0, limit + 1)
    return text[:space] if space > 0 else text[:limit]
