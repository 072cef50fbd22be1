"""Page chrome above a column's title: what a blog page shows before the column starts.

Copied from a browser, a column starts with the site's name or slogan, a menu ("Home | Boeken |
Columns"), or a question that is a link to another page ("Adverteren of een persbericht?"). None of
it is the column, and the first line is often not its title, so the title line is chosen here:

- a bracketed label line ("[Column] ...") wins when every line above it is chrome: a menu, the
  site's name, a question, or any line that is not a sentence (a slogan);
- without one, the title is the first line that is not chrome, where chrome is narrower (menus, the
  site's name, questions, lines of at most three words, and lines that share their block with
  another title-like line, as a blog's name and slogan do): a column's own title may be short;
- when every line up to the text is such weaker chrome, the first line of a block of them is the
  title (a title with its subtitle), else the first of them (a short title, then a short heading):
  a column without chrome keeps its first line as its title.

Every line dropped is said in a warning: a guess that drops a real title must be visible.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from newsletter.project.columns.column import CLOSING_QUOTES, LABEL, squash

# Lines of at most this many words above the title are taken for chrome (a slogan, "Menu").
SHORT_WORDS = 3
# A title candidate longer than this is the text itself, not a title.
TITLE_MAX_WORDS = 16
TITLE_MAX_CHARS = 120
# A line ending in one of these is a sentence: the text has started. "!" is not among them, as
# titles end in it ("Social media verandert jouw bedrijf!").
SENTENCE_END = ".…:;,"
# What blogs put between menu items and breadcrumbs.
MENU_SEPARATORS = re.compile(r"\s*[|»›]\s*")
MENU_ITEM_MAX_WORDS = 4
# What sites put between their name and a slogan or a page name: "Lindenhof – boeken die blijven".
_NAME_SEPARATOR = r"\s*(?:[|:·•,]|\s[-–—]\s)\s*"
_BULLET = re.compile(r"[-–•*]\s")


@dataclass(frozen=True)
class Candidate:
    """A line (or a Markdown block of lines) above the text; `marked` when it announces the title:
    a bracketed label line, or a Markdown `# heading`."""

    lines: tuple[str, ...]
    marked: bool = False
    # Shares its block with another title-like line: a blog's header (name and slogan) is one block,
    # while a post's title stands alone between blank lines.
    grouped: bool = False

    @property
    def text(self) -> str:
        return squash(" ".join(self.lines))


@dataclass(frozen=True)
class TitleChoice:
    """Which candidate is the title; all candidates before it are chrome, listed with their kind."""

    index: int
    dropped: tuple[tuple[str, str], ...] = ()

    def warning(self) -> str | None:
        """What was dropped, in one line: an editor reads it once and checks the subject."""
        if not self.dropped:
            return None
        listed = ", ".join(f"“{text}” ({kind})" for text, kind in self.dropped)
        return f"dropped page chrome above the title: {listed}"


def choose_title(
    candidates: Sequence[Candidate], site_name: str | None, *, fallback: bool = True
) -> TitleChoice | None:
    """The title among the lines above the text; None when no rule applies (the caller decides).

    `fallback` off asks for a marked line only (Markdown has its own rule without one).
    """
    if (marked := _marked_title(candidates, site_name)) is not None:
        return marked
    if not fallback:
        return None
    return _first_not_chrome(candidates, site_name)


def line_candidates(lines: Sequence[str]) -> list[tuple[int, Candidate]]:
    """The non-blank lines of a plain-text column as candidates, with their index in `lines`."""
    found: list[tuple[int, Candidate]] = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        neighbours = [lines[i] for i in (index - 1, index + 1) if 0 <= i < len(lines)]
        grouped = any(_title_like(squash(other)) for other in neighbours if other.strip())
        found.append((index, Candidate((line.strip(),), marked=is_label_line(line), grouped=grouped)))
    return found


def is_label_line(line: str) -> bool:
    return LABEL.fullmatch(squash(line)) is not None


def _marked_title(candidates: Sequence[Candidate], site_name: str | None) -> TitleChoice | None:
    dropped: list[tuple[str, str]] = []
    for index, candidate in enumerate(candidates):
        if candidate.marked:
            return TitleChoice(index, tuple(dropped))
        kind = chrome_kind(candidate.lines, site_name) or _slogan(candidate.lines)
        if kind is None:
            return None
        dropped.append((candidate.text, kind))
    return None


def _first_not_chrome(candidates: Sequence[Candidate], site_name: str | None) -> TitleChoice | None:
    """The first line that is no chrome; when all are weak chrome, the first line of a header
    block (a title with its subtitle), else the first weak line (a short title before a heading)."""
    dropped: list[tuple[str, str]] = []
    fallbacks: dict[str, int] = {}
    for index, candidate in enumerate(candidates):
        kind = chrome_kind(candidate.lines, site_name)
        if kind in ("menu", "site name"):
            dropped.append((candidate.text, kind))
            continue
        if not _title_like(candidate.text):
            break
        if kind is None and not candidate.grouped:
            return TitleChoice(index, tuple(dropped))
        kind = kind or "page header"
        fallbacks.setdefault(kind if kind == "page header" else "weak", index)
        dropped.append((candidate.text, kind))
    first = fallbacks.get("page header", fallbacks.get("weak"))
    if first is None:
        return None
    return TitleChoice(first, tuple(dropped[:first]))


def chrome_kind(lines: Sequence[str], site_name: str | None) -> str | None:
    """Why these lines are chrome ("menu", "site name", "question", "short line"), or None."""
    kinds = [_line_kind(squash(line), site_name) for line in lines]
    if not kinds or None in kinds:
        return None
    return kinds[0]


def _line_kind(line: str, site_name: str | None) -> str | None:
    if _is_menu(line):
        return "menu"
    if site_name and _names_site(line, site_name):
        return "site name"
    if line.rstrip(CLOSING_QUOTES).endswith("?"):
        return "question"
    if len(line.split()) <= SHORT_WORDS and _title_like(line):
        return "short line"
    return None


def _slogan(lines: Sequence[str]) -> str | None:
    """Above a label line, any line that is not a sentence is chrome: a slogan, a page name."""
    return "slogan" if all(_title_like(squash(line)) for line in lines) else None


def _is_menu(line: str) -> bool:
    items = MENU_SEPARATORS.split(line)
    return len(items) >= 2 and all(0 < len(item.split()) <= MENU_ITEM_MAX_WORDS for item in items)


def _names_site(line: str, site_name: str) -> bool:
    """The site's name alone, or with a slogan or page name after or before a separator."""
    text, name = fold(line), fold(site_name)
    if not name:
        return False
    if text == name:
        return True
    pattern = re.compile(rf"{re.escape(name)}{_NAME_SEPARATOR}.+|.+{_NAME_SEPARATOR}{re.escape(name)}")
    return pattern.fullmatch(text) is not None


def _title_like(line: str) -> bool:
    """Short enough to be a title, and not a sentence, a bullet or lower-case running text."""
    if not line or len(line) > TITLE_MAX_CHARS or len(line.split()) > TITLE_MAX_WORDS:
        return False
    last = line.rstrip(CLOSING_QUOTES)[-1:]
    if _BULLET.match(line) or (last and last in SENTENCE_END):
        return False
    first = next((char for char in line if char.isalnum()), "")
    return not first.islower()


def fold(text: str) -> str:
    """Compare as a reader would: case, accents, curly quotes and spacing do not matter."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = plain.translate(str.maketrans("’‘`´“”„«»", '\'\'\'\'"""""'))
    return " ".join(plain.split())
