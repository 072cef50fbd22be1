"""The Wet op de vaste boekenprijs (the Dutch fixed book price law) as it bears on selling a book here.

A printed book in Dutch or Frisian has a fixed price, set by its publisher, which every seller asks
(art. 1 and 3): no code may take money off it. The publisher changes that price six months after it
took effect at the earliest (art. 5), sooner only to pass on a change of the VAT rate (art. 5(3)), and
may lift it one year after the book came out (art. 7, as this tool reads it: docs/stripe.md says which
sources were checked); an e-book has no fixed price. `newsletter check`
(review/checks/price_law.py) and `newsletter links sync` (payments/stripe_links.py) hold a campaign to
these rules with the functions below, in the same words; the book file says what they need to know
(`language`, `format`, `published`, `price_since`, `price_history`, `fixed_price_lifted`), and
`load_book` refuses a history that cannot be true (`history_problems`).

Every rule is a function of the day it is asked on: `today()` is the clock, one place for tests to fix.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsletter.project.models import Book
    from newsletter.project.schema import BookFile
    from newsletter.project.validation import Loc

LAW = "Wet op de vaste boekenprijs"
LAW_URL = "https://wetten.overheid.nl/BWBR0017452"
FIXED_PRICE_LANGUAGES = {"nl": "Dutch", "fy": "Frisian"}  # art. 1: "Nederlandse of Friese taal"
MONTHS_BETWEEN_CHANGES = 6  # art. 5(1): "een half jaar"
MONTHS_BEFORE_LIFTING = 12  # art. 7: one year after the book came out


def today() -> date:
    """The day the rules are asked on (tests replace this)."""
    return date.today()


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the month's last day where it has no such day (31 August + 6)."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def has_fixed_price(book: Book, on: date) -> bool:
    """A printed book in Dutch or Frisian whose fixed price has not been lifted by `on`."""
    lifted = book.fixed_price_lifted is not None and book.fixed_price_lifted <= on
    return book.format == "printed" and book.language in FIXED_PRICE_LANGUAGES and not lifted


def liftable_from(book: Book) -> date | None:
    """The first day the publisher may lift the fixed price (art. 7); None without `published`."""
    return add_months(book.published, MONTHS_BEFORE_LIFTING) if book.published else None


def what_it_is(book: Book) -> str:
    return f"'{book.title}' is a printed book in {FIXED_PRICE_LANGUAGES.get(book.language, book.language)}"


def lifting(book: Book, on: date) -> str:
    """When the fixed price may be lifted (art. 7), as a clause for the messages below."""
    first = liftable_from(book)
    if first is None:
        return "with `published:` in its book file this says when its fixed price may be lifted (art. 7)"
    when = f"from {first.isoformat()} on" if first > on else f"since {first.isoformat()}"
    return (
        f"its fixed price may be lifted {when} (art. 7), and once it is, `fixed_price_lifted:` in its "
        "book file says so"
    )


# -- what a sale may not do -------------------------------------------------------------------------


def promotion_code_problem(book: Book, allow_promotion_codes: bool, on: date) -> str | None:
    """Promotion codes on the Payment Link of a fixed-price book let a buyer pay less than the fixed
    price, which the seller must ask (art. 1 and 3)."""
    if not (allow_promotion_codes and has_fixed_price(book, on)):
        return None
    return (
        f"{what_it_is(book)} with a fixed price, which the seller must ask ({LAW}, art. 1 and 3), but "
        "`allow_promotion_codes = true` under [stripe] puts promotion codes on its Payment Link, so buyers "
        f"can pay less: set it to false; {lifting(book, on)}"
    )


@dataclass(frozen=True)
class PriceProblem:
    field: str  # the key of the book file it is about
    message: str


def price_change_problem(book: Book, on: date) -> PriceProblem | None:
    """A fixed price not yet in effect, or changed sooner than six months after the one before it
    (art. 5) without a change of the VAT rate (art. 5(3)), while that half year still runs."""
    if not has_fixed_price(book, on) or book.price_since is None:
        return None
    since = book.price_since
    if since > on:
        return PriceProblem(
            "price_since",
            f"{what_it_is(book)} with a fixed price, and its price {book.price} takes effect on "
            f"{since.isoformat()} (`price_since`), after today: until then it sells at the fixed price in "
            f"effect ({LAW}, art. 3); send the campaign from {since.isoformat()} on",
        )
    before = previous_change(book)
    if before is None or book.price_vat_change:
        return None
    earliest = add_months(before, MONTHS_BETWEEN_CHANGES)
    if since >= earliest or on >= earliest:
        return None
    return PriceProblem(
        "price_since",
        f"{what_it_is(book)} with a fixed price, and its price changed to {book.price} on "
        f"{since.isoformat()}, less than six months after the price before it took effect on "
        f"{before.isoformat()}: {LAW}, art. 5, allows the change from {earliest.isoformat()} on, sooner "
        "only to pass on a change of the VAT rate (art. 5(3): then say `price_vat_change: true`); "
        f"{lifting(book, on)}",
    )


def previous_change(book: Book) -> date | None:
    """The day the price before the current one took effect: the newest in `price_history`, or, when
    the history is empty but the current price took effect after publication, the publication (the
    book had a price when it came out)."""
    if book.price_history:
        return book.price_history[0].since
    if book.published and book.price_since and book.price_since > book.published:
        return book.published
    return None


def note(book: Book, on: date) -> str | None:
    """What `links sync` says about a fixed-price book: when its price may change and be lifted."""
    if not has_fixed_price(book, on):
        return None
    said = f"{book.sku}: sold at its fixed price ({LAW}): no promotion codes"
    if book.price_since is not None:
        change = add_months(book.price_since, MONTHS_BETWEEN_CHANGES)
        if change > on:
            said += f", no other price before {change.isoformat()} (art. 5)"
    return f"{said}; {lifting(book, on)}"


# -- what a book file may say -----------------------------------------------------------------------


def history_problems(entry: BookFile) -> list[tuple[Loc, str]]:
    """(where, what) for every way the book file's prices and dates cannot be true together."""
    problems: list[tuple[Loc, str]] = []
    history = entry.price_history
    if history and entry.price_since is None:
        message = "needs `price_since:`, the day `price` took effect, before the prices it lists"
        problems.append((("price_history",), message))
    newer_price, newer_since, newer_name = entry.price, entry.price_since, "price_since"
    for index, earlier in enumerate(history):
        name = f"price_history[{index}]"
        if newer_since is not None and earlier.since >= newer_since:
            problems.append(
                (
                    ("price_history", index, "since"),
                    f"must be before {newer_since.isoformat()} ({newer_name}): the history lists the earlier "
                    "prices newest first, each with the day it took effect",
                )
            )
        if earlier.price == newer_price:
            problems.append(
                (
                    ("price_history", index, "price"),
                    f"is {earlier.price}, the price after it too: list only the prices a change ended",
                )
            )
        newer_price, newer_since, newer_name = earlier.price, earlier.since, f"{name}.since"
    if entry.fixed_price_lifted is not None and entry.published is not None:
        first = add_months(entry.published, MONTHS_BEFORE_LIFTING)
        if entry.fixed_price_lifted < first:
            problems.append(
                (
                    ("fixed_price_lifted",),
                    f"must be {first.isoformat()} or later: a fixed price may be lifted one year after the "
                    f"book came out ({LAW}, art. 7; published: {entry.published.isoformat()})",
                )
            )
    return problems
