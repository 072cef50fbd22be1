"""The plain-text part: filters its template uses, and the tidying of what the template wrote.

Plain text is read in mail clients that do not reflow it, so paragraphs are wrapped here, at a width
every client shows, and template whitespace never reaches the reader.
"""

from __future__ import annotations

import re
import textwrap


def wrap(text: str, width: int = 72) -> str:
    """Plain-text paragraphs wrapped for mail clients; URLs are never broken."""
    return "\n\n".join(
        textwrap.fill(" ".join(part.split()), width=width, break_long_words=False, break_on_hyphens=False)
        for part in re.split(r"\n\s*\n", text.strip())
    )


def underline(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}"


def tidy_text(text: str) -> str:
    """Template whitespace must not show: no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
