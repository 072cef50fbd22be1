"""The name to greet a reader by, from the name a sign-up form or an old list holds.

Lists hold "Jansen, Piet", "Dhr. J. de Vries", "mevrouw van Dam" and "PIET" beside "Piet". The
greeting must then say "Beste Piet," or fall back to "Beste lezer,", never "Beste Dhr.," or
"Beste van,". `nameparser` knows titles, suffixes, "last, first" and surname prefixes; Dutch
forms of address it lacks are added to its word lists here.

Most names are plain ("Jan van der Berg"), and a send composes thousands of messages a second, so
nameparser (140 µs a name) runs only on a name with a title in front or more than one comma.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from newsletter.render.merge import escape_text

if TYPE_CHECKING:
    from nameparser.config import Constants

# Forms of address and titles in Dutch lists that nameparser does not know (it knows dhr, mevr,
# mevrouw, mr, dr, prof among many others).
DUTCH_TITLES = ("meneer", "mw", "mvr", "fam", "familie", "juf", "ir", "ing", "drs", "heer", "hr")
_INITIALS = re.compile(r"(?:\w\.?-?)+\.?|\w", re.UNICODE)


def first_name(name: str) -> str:
    """'Jan van der Berg' → 'Jan', 'Jansen, Piet' → 'Piet', 'piet' → 'Piet'; a name without a
    usable first name ('Dhr. J. de Vries', 'mevrouw van Dam', 'van Dam', 'J.P.') → ''."""
    text = " ".join(escape_text(name).split())
    if not text:
        return ""
    words = constants()
    first = _after_comma(text) if text.count(",") == 1 else text.split()[0]
    if text.count(",") > 1 or _bare(first) in words.titles:
        first = _parsed(text)
    bare = _bare(first)
    if not bare or bare in words.titles or bare in words.prefixes or _is_initials(first):
        return ""
    return _tidy_case(first)


@functools.cache
def constants() -> Constants:
    """nameparser's word lists with the Dutch titles added, made once and not shared with other
    users of the library (its module-level CONSTANTS are left as they are)."""
    from nameparser.config import Constants

    words = Constants()
    words.titles.add(*DUTCH_TITLES)
    return words


def _after_comma(text: str) -> str:
    """'Jansen, Piet' → 'Piet': a list's "last, first" without more to it needs no parser."""
    given = text.partition(",")[2].split()
    return given[0] if given else ""


def _parsed(text: str) -> str:
    from nameparser import HumanName

    return str(HumanName(text, constants=constants()).first)


def _bare(word: str) -> str:
    return word.lower().strip(".,")


def _is_initials(word: str) -> bool:
    """'J.', 'J.P.', 'A.-M.' and a lone letter are initials, not a name to greet by."""
    return bool(_INITIALS.fullmatch(word)) and (len(word) == 1 or "." in word)


def _tidy_case(word: str) -> str:
    """'PIET' and 'piet' as 'Piet'; a name written in mixed case ('McEnroe', 'DeShawn') as typed."""
    if word.isupper() or word.islower():
        return "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-"))
    return word
