"""MJML that MRML cannot parse, traced back to the template line that wrote it.

MRML's parse errors name a byte range of the generated MJML at best ("unexpected token in root
template at position 1491:1502") and often nothing at all ("unexpected end of stream"). Editors
fix templates, not generated MJML, so the place is found again: from MRML's position when it
gives one, otherwise from the first tag that is never closed or closed by the wrong end tag, and
then the template line most like the generated one that holds that tag.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

from newsletter.errors import NewsletterError
from newsletter.files import read_user_text
from newsletter.render.mjml.locate import meaningful, similarity, window

# Elements HTML never closes: inside mj-raw or mj-text they are no sign of a broken structure.
VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
_POSITION = re.compile(r" at position (\d+):(\d+)")


class MrmlParseError(Exception):
    """MRML refused the MJML; `source` is exactly what it was given."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(message)
        self.message = message
        self.source = source


def parse_error(error: MrmlParseError, templates: Iterable[Path], main: Path) -> NewsletterError:
    """One error naming the template line, with the generated line shown for recognition."""
    line, problem = _place(error)
    message = f"MJML could not be parsed: {problem or _POSITION.sub('', error.message)}"
    lines = [text.strip() for text in error.source.splitlines()]
    generated = lines[line - 1] if line and line <= len(lines) else ""
    path, template_line = _find_line(lines, line, templates) if line and generated else (None, None)
    if path is None:
        where = f" (line {line} of the generated MJML: {_shorten(generated)})" if generated else ""
        return NewsletterError(message + where, path=main, hint=_HINT)
    return NewsletterError(
        message, path=path, line=template_line, hint=f"the template wrote {_shorten(generated)!r}; {_HINT}"
    )


_HINT = "every MJML tag needs its end tag, and text with '<' or '&' must be written &lt; or &amp;"


def _place(error: MrmlParseError) -> tuple[int | None, str | None]:
    """The 1-based line of the generated MJML where parsing went wrong, and what went wrong if we
    can say it better than MRML."""
    unbalanced = _Balance.first_problem(error.source)
    if unbalanced:
        return unbalanced
    found = _POSITION.search(error.message)
    if found:
        # MRML counts bytes of UTF-8, not characters, and its span may start with the whitespace
        # before the token: the token's first visible byte is where the problem is.
        data = error.source.encode("utf-8")
        start, end = int(found.group(1)), int(found.group(2))
        span = data[start:end]
        start += len(span) - len(span.lstrip()) if span.strip() else 0
        before = data[:start].decode("utf-8", errors="ignore")
        return before.count("\n") + 1, None
    return None, None


class _Balance(HTMLParser):
    """Finds the first end tag that does not close the open element, or an element left open."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, int]] = []
        self.problem: tuple[int, str] | None = None

    @classmethod
    def first_problem(cls, source: str) -> tuple[int, str] | None:
        parser = cls()
        parser.feed(source)
        parser.close()
        if parser.problem is None and parser.open:
            tag, line = parser.open[-1]
            return line, f"<{tag}> is never closed"
        return parser.problem

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID_ELEMENTS:
            self.open.append((tag, self.getpos()[0]))

    def handle_endtag(self, tag: str) -> None:
        if self.problem is not None or tag in VOID_ELEMENTS:
            return
        line = self.getpos()[0]
        if not self.open:
            self.problem = (line, f"</{tag}> closes nothing")
        elif self.open[-1][0] != tag:
            opened, opened_line = self.open[-1]
            self.problem = (opened_line, f"<{opened}> is not closed before </{tag}>")
        else:
            self.open.pop()


def _find_line(generated: list[str], line: int, templates: Iterable[Path]) -> tuple[Path | None, int | None]:
    """The template line most like the generated one and its neighbours, among the lines writing
    the same first tag: an end tag such as </mj-text> is written in several places."""
    wanted = generated[line - 1]
    tag = re.match(r"</?[\w-]+", wanted)
    context = window(generated, line - 1)
    best: tuple[float, Path | None, int | None] = (0.0, None, None)
    for path in templates:
        numbered = meaningful(read_user_text(path, what="template"))
        lines = [text for _, text in numbered]
        for index, (number, text) in enumerate(numbered):
            if tag and tag.group() not in text:
                continue
            score = similarity(text, wanted) + similarity(window(lines, index), context)
            if score > best[0]:
                best = (score, path, number)
    return (best[1], best[2]) if best[0] >= 0.6 else (None, None)


def _shorten(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
