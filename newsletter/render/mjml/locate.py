"""Which template line wrote a tag or an attribute of the generated MJML.

Jinja2 joins the templates and their partials into one MJML text, and a tag named in a problem is
usually written in several places: as a default inside <mj-attributes>, in the main template, in each
partial. The first `<mj-section` of all the templates is the default in email.mjml.j2, not the
section misplaced in a partial. So every place a template writes the tag is a candidate, and the
candidates are narrowed in order, each step applied only when some candidate passes it:

1. inside <mj-attributes> or not, like the problem (a default is not a misplaced component);
2. writing the attribute the problem is about, with a value that can produce the generated one
   (`{{ ... }}` in the template stands for any text);
3. the most similar neighbourhood: the generated MJML around the problem against the template lines
   around the candidate, leaving out the lines that only hold Jinja statements or comments.

`similarity` and `window` are the measures mjml_errors uses for MRML's parse errors, shared here.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

_JINJA = r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}"
_QUOTED = rf"\"(?:{_JINJA}|[^\"])*\"|'(?:{_JINJA}|[^'])*'"
# An MJML start tag as a template writes it; `>` inside Jinja or quotes does not end it.
_TAG = re.compile(rf"<(mjml|mj-[\w-]+)(?=[\s/>])((?:{_JINJA}|{_QUOTED}|[^>])*)", re.DOTALL | re.IGNORECASE)
# In a tag: a Jinja block (group 1) or an attribute name (2) with its value as written (3).
_ATTRIBUTE = re.compile(
    rf"({_JINJA})|([^\s=/>\"'{{}}]+)(?:\s*=\s*({_QUOTED}|(?:{_JINJA}|[^\s>\"'])+))?", re.DOTALL
)
_DEFAULTS = re.compile(r"<mj-attributes\b.*?</mj-attributes\s*>", re.DOTALL | re.IGNORECASE)
_WRITES_NOTHING = re.compile(rf"(?:{_JINJA}|\s)*", re.DOTALL)
_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_SPLIT_JINJA = re.compile(f"({_JINJA})", re.DOTALL)


@dataclass(frozen=True)
class Target:
    """What a problem is about: a tag at a 1-based line of the generated MJML, maybe one attribute."""

    tag: str
    line: int
    in_defaults: bool
    attribute: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class _Written:
    """One MJML tag as a template writes it."""

    path: Path
    line: int
    tag: str
    in_defaults: bool
    attributes: dict[str, tuple[int, re.Pattern[str]]]  # name -> (line, what its value can render)
    text: str  # the tag's line, stripped
    neighbourhood: str


class Locator:
    """Reads the templates once for all the problems found in one generated MJML text."""

    def __init__(self, sources: Iterable[tuple[Path, str]], generated: str) -> None:
        self.written = [tag for path, text in sources for tag in _tags(path, text)]
        self.generated = meaningful(generated)

    def find(self, target: Target) -> tuple[Path | None, int | None]:
        """The template and line that wrote the target, or (None, None) when no template writes it."""
        candidates = _narrow([written for written in self.written if written.tag == target.tag], target)
        if not candidates:
            return None, None
        lines = [text for _, text in self.generated]
        index = next((i for i, (number, _) in enumerate(self.generated) if number >= target.line), None)
        if index is None:
            best = candidates[0]
        else:
            generated = (lines[index], window(lines, index))
            best = max(candidates, key=lambda written: _likeness(written, *generated))
        if target.attribute in best.attributes:
            return best.path, best.attributes[target.attribute][0]
        return best.path, best.line


def _likeness(written: _Written, line: str, neighbourhood: str) -> float:
    """How much the candidate and its neighbours look like the generated line and its neighbours."""
    return similarity(written.text, line) + similarity(written.neighbourhood, neighbourhood)


def _narrow(candidates: list[_Written], target: Target) -> list[_Written]:
    """Steps 1 and 2 of the module docstring: each test is kept only when some candidate passes it."""
    name, value = target.attribute, target.value
    tests: list[Callable[[_Written], bool]] = [lambda written: written.in_defaults == target.in_defaults]
    if name is not None:
        tests.append(lambda written: name in written.attributes)
        if value is not None:
            tests.append(lambda written: _can_write(written.attributes.get(name), value))
    for test in tests:
        passed = [written for written in candidates if test(written)]
        candidates = passed or candidates
    return candidates


def _can_write(attribute: tuple[int, re.Pattern[str]] | None, value: str) -> bool:
    return attribute is not None and attribute[1].fullmatch(value) is not None


def _tags(path: Path, text: str) -> list[_Written]:
    """Every MJML tag the template writes; a tag in a Jinja comment is not written, so it is blanked
    out first (keeping the line breaks, so that line numbers stay true)."""
    text = _COMMENT.sub(lambda comment: re.sub(r"[^\n]", " ", comment.group()), text)
    defaults = [match.span() for match in _DEFAULTS.finditer(text)]
    numbered = meaningful(text)
    lines = [line for _, line in numbered]
    index_of = {number: index for index, (number, _) in enumerate(numbered)}
    found = []
    for match in _TAG.finditer(text):
        line = _line_at(text, match.start())
        index = index_of.get(line, 0)
        found.append(
            _Written(
                path=path,
                line=line,
                tag=match.group(1).lower(),
                in_defaults=any(start < match.start() < end for start, end in defaults),
                attributes=_attributes(text, match.start(2), match.group(2)),
                text=lines[index] if lines else "",
                neighbourhood=window(lines, index),
            )
        )
    return found


def _attributes(text: str, offset: int, body: str) -> dict[str, tuple[int, re.Pattern[str]]]:
    """Each attribute the tag writes: its line, and a pattern for the values it can render."""
    attributes: dict[str, tuple[int, re.Pattern[str]]] = {}
    for match in _ATTRIBUTE.finditer(body):
        name = match.group(2)
        if name is None:
            continue
        line = _line_at(text, offset + match.start(2))
        attributes.setdefault(name.lower(), (line, _renders(match.group(3) or "")))
    return attributes


def _renders(written: str) -> re.Pattern[str]:
    """A pattern for what a written value can render: the literal text, anything for `{{ }}` or `{% %}`."""
    if len(written) >= 2 and written[0] in "\"'" and written[-1] == written[0]:
        written = written[1:-1]
    parts = _SPLIT_JINJA.split(written)
    return re.compile(
        "".join(".*?" if odd else re.escape(html.unescape(part)) for odd, part in _alternate(parts)),
        re.DOTALL,
    )


def _alternate(parts: list[str]) -> Iterable[tuple[bool, str]]:
    return ((index % 2 == 1, part) for index, part in enumerate(parts))


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def meaningful(text: str) -> list[tuple[int, str]]:
    """The lines that write something, stripped and numbered from 1."""
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if not _WRITES_NOTHING.fullmatch(line)
    ]


def window(lines: list[str], index: int, size: int = 3) -> str:
    """The line at `index` with up to `size` lines either side, as one text."""
    return "\n".join(text for text in lines[max(index - size, 0) : index + size + 1] if text)


def similarity(one: str, other: str) -> float:
    """0 (nothing alike) to 1 (the same)."""
    return difflib.SequenceMatcher(None, one, other, autojunk=False).ratio()
