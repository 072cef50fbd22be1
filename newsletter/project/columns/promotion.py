"""The book promotion a blog puts after a column: "Boek <title> met <co-authors>", "BESTEL NU!".

It is never part of the column (a teaser's excerpt must not sell a book the email may not), but it
says which book the column goes with, so `newsletter new` can put that book in the campaign:

- a book line is a whole line "Boek <title> met <names>" or "Book <title> with <names>", the names
  separated by ",", "en", "and" or "&" and written as names (capitals, particles such as "de");
  without "met"/"with" it is one only when an order line follows it;
- an order line starts with "BESTEL NU" or "ORDER NOW" (in another case only when "!", ":", a price
  or nothing follows: "Bestel nu je kaartjes" is a sentence).

The promotion starts at the first of them; whatever follows it (prices, shipping) belongs to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from newsletter.project.columns.chrome import fold
from newsletter.project.columns.column import Promotion, squash

_BOOK_LINE = re.compile(r"(?:boek|book)\s*[:–—-]?\s+(?P<rest>\S.*)", re.IGNORECASE)
_WITH = re.compile(r"\s+(?:met|with)\s+", re.IGNORECASE)
# "BESTEL NU" in capitals, or in any case when only a "!", ":", a price or nothing follows: "Bestel
# nu je kaartjes via de site." starts a sentence of the column, not a promotion.
_ORDER = re.compile(r"(?:BESTEL NU|ORDER NOW)\b|(?i:bestel nu|order now)\s*(?:[!:€]|$)")
_NAME_SEPARATOR = re.compile(r"\s*,\s*(?:(?:en|and)\s+)?|\s+(?:en|and)\s+|\s*&\s*", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W\d_][\w’'.\-]*")
_ELIDED = re.compile(r"[dl][’'][^\W\d_]")  # d’Oliveira, l'Estrange
PARTICLES = frozenset(
    {
        "van",
        "de",
        "der",
        "den",
        "het",
        "ter",
        "ten",
        "te",
        "’t",
        "'t",
        "la",
        "le",
        "du",
        "von",
        "da",
        "el",
        "al",
    }
)
NAME_MAX_WORDS = 5
QUOTES = "‘’“”„\"'«»"


def find_promotion(lines: Sequence[str]) -> tuple[int, Promotion] | None:
    """The index of the line where the promotion starts, and what it promotes; None without one."""
    texts = [squash(line.strip()) for line in lines]
    for index, text in enumerate(texts):
        if not text:
            continue
        following = next((later for later in texts[index + 1 :] if later), None)
        if (book := _book_line(text, following)) is not None:
            return index, book
        if is_order_line(text):
            return index, Promotion(line=text)
    return None


def first_book(*found: Promotion | None) -> Promotion | None:
    """The first promotion that names a book; an order line alone only ends the column."""
    return next((promotion for promotion in found if promotion and promotion.title), None)


def is_order_line(text: str) -> bool:
    return _ORDER.match(text.strip()) is not None


def _book_line(line: str, following: str | None) -> Promotion | None:
    """The rightmost "met"/"with" is tried first: titles may hold one ("Koken met kinderen")."""
    match = _BOOK_LINE.fullmatch(line)
    if match is None:
        return None
    rest = match.group("rest").rstrip(" .")
    for separator in reversed(list(_WITH.finditer(rest))):
        title, names = _title(rest[: separator.start()]), _names(rest[separator.end() :])
        if title and names:
            return Promotion(line=line, title=title, co_authors=names)
    if following is not None and is_order_line(following) and (title := _title(rest)):
        return Promotion(line=line, title=title)
    return None


def _title(text: str) -> str | None:
    """A book title as written, without the quotes around it; titles start with a capital or digit."""
    title = text.strip().strip(QUOTES).strip()
    first = next((char for char in title if char.isalnum()), "")
    return title if first and not first.islower() else None


def _names(text: str) -> tuple[str, ...]:
    """The co-authors, or () when the text does not read as a list of names."""
    names = tuple(name.strip() for name in _NAME_SEPARATOR.split(text.strip()))
    if not names or not all(_is_name(name) for name in names):
        return ()
    return names


def _is_name(name: str) -> bool:
    words = name.split()
    if not 0 < len(words) <= NAME_MAX_WORDS or not all(_TOKEN.fullmatch(word) for word in words):
        return False
    if not (_capitalised(words[0]) and _capitalised(words[-1])):
        return False
    return all(_capitalised(word) or word.lower() in PARTICLES for word in words)


def _capitalised(word: str) -> bool:
    return word[0].isupper() or _ELIDED.match(word) is not None


def promotes(promotion: Promotion, title: str, subtitle: str | None, co_authors: Sequence[str]) -> bool:
    """Whether the promotion is for this book: the same title (with or without its subtitle) and
    co-authors the book lists, compared without case, accents, punctuation or "en"/"and"/"&"."""
    if promotion.title is None:
        return False
    titles = {_key(title)} | ({_key(f"{title} {subtitle}")} if subtitle else set())
    if _key(promotion.title) not in titles:
        return False
    listed = {_key(name) for name in co_authors}
    return all(_key(name) in listed for name in promotion.co_authors)


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", fold(text)).split())


MAX_SKU = 60  # characters: a file name every file system takes, and still readable


def book_sku(title: str) -> str:
    """A file name for a new book: its title in lower-case ASCII words joined by '-', cut after
    whole words at MAX_SKU."""
    ascii_title = fold(title).encode("ascii", "ignore").decode("ascii")
    sku = ""
    for word in re.findall(r"[a-z0-9]+", ascii_title):
        if sku and len(sku) + 1 + len(word) > MAX_SKU:
            break
        sku = f"{sku}-{word}" if sku else word[:MAX_SKU]
    return sku
