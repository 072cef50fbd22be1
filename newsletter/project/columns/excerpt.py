"""The excerpt of a teaser: the start of the column in whole sentences, cut with an ellipsis.

Readers decide from the excerpt whether to click, so it reads as the writer wrote it: typography
kept, never cut inside a sentence when a whole one fits, never inside a word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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
