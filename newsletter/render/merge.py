"""Merge fields: the few values that differ per recipient, filled into an already-rendered campaign.

A campaign is rendered once (Jinja2, MJML, premailer are far too slow to run per recipient). Where a
recipient's value belongs, the renderer writes a marker, `__merge_first_name__`: letters, digits and
underscores only, so that autoescaping, MRML, premailer and quoted-printable leave it as it is. Per
recipient the markers are replaced by values escaped for the part they land in, which is a string
join over pre-split pieces and costs microseconds.

Campaign text may greet the reader by name with `{first_name}` (in the subject, the preheader, the
intro and sign-off, teasers and book blocks); without a name it falls back to a word like "lezer"
("Beste lezer,").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from markupsafe import escape

from newsletter import placeholders

MARKER = re.compile(r"__merge_([a-z][a-z0-9_]*?)__")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def marker(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or "__" in name or name.endswith("_"):
        raise ValueError(f"not a merge field name: {name!r}")
    return f"__merge_{name}__"


def personal(text: str) -> str:
    """Text as an editor wrote it, with its merge fields (`{first_name}`) turned into markers and
    doubled braces into single ones (placeholders.py)."""
    return placeholders.substitute(text, marker)


def as_written(text: str) -> str:
    """Markers back as the editor's `{first_name}`: for the link inventory and the checks."""
    return MARKER.sub(lambda found: "{" + found.group(1) + "}", text)


def personal_or_none(text: str | None) -> str | None:
    return None if text is None else personal(text)


def escape_html(value: str) -> str:
    return str(escape(escape_text(value)))


def escape_text(value: str) -> str:
    """A merge value never adds a line or a control character, in the text part or a header."""
    return " ".join(_CONTROL.sub(" ", value).split()) if _CONTROL.search(value) else value


@dataclass(frozen=True)
class MergeTemplate:
    """Rendered text split at its markers: literal, field, literal, ..., literal."""

    pieces: tuple[str, ...]

    @classmethod
    def parse(cls, source: str, known: Collection[str] | None = None) -> MergeTemplate:
        """With `known`, a marker of another name stays literal text: a template may print
        `__merge_x__` (campaign text may not: loading refuses it), and the email must show it."""
        pieces = MARKER.split(source)
        if known is not None:
            merged = [pieces[0]]
            for field, literal in zip(pieces[1::2], pieces[2::2], strict=True):
                if field in known:
                    merged += (field, literal)
                else:
                    merged[-1] += f"__merge_{field}__{literal}"
            pieces = merged
        return cls(tuple(pieces))

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(self.pieces[1::2])

    def fill(self, values: Mapping[str, str], escape_value: Callable[[str], str] = escape_text) -> str:
        """Every field must have a value: a marker left in a sent email would be a visible bug."""
        pieces = list(self.pieces)
        for index in range(1, len(pieces), 2):
            pieces[index] = escape_value(values[pieces[index]])
        return "".join(pieces)
