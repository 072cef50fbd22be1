"""The byline that ends a column: "Marieke de Wit (@mariekeschrijft)", usually followed by a bio.

Blog exports go on after the byline with the bio and often a book promotion; only the column itself
may end up in a teaser, so both readers stop the body at the first byline they find.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BYLINE = re.compile(
    r"(?P<name>[^\W\d_](?:[^\W\d_]|[ .'’\-])*?)\s*\(@(?P<handle>[A-Za-z0-9_.]+)\)",
)


MAX_BYLINE = 200  # characters; the pattern takes time that grows with the square of a line


@dataclass(frozen=True)
class Byline:
    """Who wrote the column, as the byline at its end says; all None when there is no byline."""

    name: str | None = None
    handle: str | None = None
    bio: str | None = None


def match_byline(line: str) -> tuple[str, str] | None:
    """(name, handle without '@') when the whole line is a byline."""
    if len(line) > MAX_BYLINE:  # a byline is a name and a handle; a longer line is text
        return None
    match = _BYLINE.fullmatch(line.strip())
    if match is None:
        return None
    return match.group("name").strip(), match.group("handle")
