"""Merge fields as editors write them: `{first_name}` in any text a reader sees; `{{` and `}}` for a
literal brace.

Checked when a campaign loads (project stage), so that a misspelt `{firstname}`, a Dutch
`{voornaam}` or a Mailchimp `*|FNAME|*` pasted from an old campaign is an error at its line, never
a literal placeholder in a reader's inbox; turned into the renderer's markers when it renders.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from newsletter.errors import closest

FIELDS = ("first_name",)
# What editors type for the fields, from habit or from other tools.
ALIASES = {
    "firstname": "first_name",
    "first-name": "first_name",
    "fname": "first_name",
    "voornaam": "first_name",
    "naam": "first_name",
    "name": "first_name",
    "vorname": "first_name",
}
# `{{` and `}}` are literal braces; `{word}` is a field (spaces inside allowed, `{ first_name }`,
# and what Python's format would take: `{first_name:>10}`, `{0}`, `{}`); any other brace, `{ een
# zin }` say, is text as it is.
_TOKEN = re.compile(r"\{\{|\}\}|\{(\s*(?:[^\W\d][\w.-]{0,40}|\d{0,3})(?:[!:\[][^{}\s]{0,20})?\s*)\}")
# A field's name without its brace ("{first_name", "first_name}"), and the renderer's own markers:
# typed into campaign text, a marker would be filled with a reader's private link.
_HALF = re.compile(
    r"\{\s*(first_name)\b(?![^{}\n]*\})|(?<!\{)\b(first_name)\s*\}|__merge_\w+__|\{\s*first\s+name\s*\}",
    re.IGNORECASE,
)
# Merge tags of other tools pasted with old campaigns: Mailchimp's *|FNAME|*, listmonk's
# {{ .Subscriber.FirstName }}, Jinja/Liquid's {% ... %}, and $first_name / %FNAME% styles.
_FOREIGN = re.compile(
    r"\*\|[A-Za-z0-9_:]+\|\*|\{\{\s*\.[\w.]+\s*\}\}|\{%[^{}\n]{0,40}%\}|\$\{?first_?name\}?|%%?[A-Z_]*NAME%%?"
)


def problems(text: str) -> list[tuple[str, str, str]]:
    """(placeholder, message, hint) for each placeholder in `text` that is not one of FIELDS."""
    found = [(tag, f"'{tag}' is another tool's merge tag", _hint_for(tag)) for tag in _FOREIGN.findall(text)]
    rest = _FOREIGN.sub("", text)
    for match in _TOKEN.finditer(rest):
        name = match.group(1)
        if name is not None and name not in FIELDS:
            found.append((match.group(), f"unknown merge field '{match.group()}'", _hint_for(name)))
    for match in _HALF.finditer(_TOKEN.sub("", rest)):
        written = match.group()
        problem = (
            "the renderer's own marker"
            if written.startswith("__merge_")
            else "a merge field without its brace"
        )
        found.append((written, f"'{written}' is {problem}", _hint_for("first_name")))
    return found


def _hint_for(written: str) -> str:
    bare = unicodedata.normalize("NFKC", written).strip("*|{}%$ ").lower()
    bare = re.split(r"[!:\[]", bare.removeprefix(".subscriber.").replace(".", "").strip())[0].strip()
    field = ALIASES.get(bare) or ALIASES.get(bare.replace("_", "")) or closest(bare.replace(" ", "_"), FIELDS)
    if field:
        return f"did you mean '{{{field}}}'? Write {{{{ and }}}} for literal braces"
    known = ", ".join(f"{{{name}}}" for name in FIELDS)
    return f"the merge fields are {known}; write {{{{ and }}}} for literal braces"


def substitute(text: str, field: Callable[[str], str]) -> str:
    """`text` with each field replaced by `field(name)` and doubled braces made single. Fields not
    in FIELDS are left as written (loading refused them already)."""

    def replace(match: re.Match[str]) -> str:
        token = match.group()
        if token in ("{{", "}}"):
            return token[0]
        name = match.group(1)
        return field(name) if name in FIELDS else token

    return _TOKEN.sub(replace, text)


_GAP = "\x00"  # where a field stood, while the text around it is tidied
_AROUND_GAP = re.compile(rf"[\s,;:&+–—-]*{_GAP}[\s,;:&+–—-]*")
_BEFORE_MARK = re.compile(r"\s+([!?.,;:])")


def without_fields(text: str) -> str:
    """`text` for no one in particular: each field left out with the commas, colons, dashes and spaces
    around it ("{first_name}, lees dit" → "Lees dit", "Nieuw voor jou, {first_name}!" → "Nieuw voor
    jou!"). What public pages show of a personal subject: no "lezer, ..." fallback."""
    gapped = substitute(text, lambda name: _GAP)
    if _GAP not in gapped:
        return gapped
    tidied = _BEFORE_MARK.sub(r"\1", " ".join(_AROUND_GAP.sub(" ", gapped).split()))
    return tidied[:1].upper() + tidied[1:] if gapped.lstrip().startswith(_GAP) else tidied


def has_fields(text: str) -> bool:
    """Whether `text` has a merge field: where none can be filled (a public title), that is a mistake."""
    return substitute(text, lambda name: _GAP) != substitute(text, lambda name: "")
