"""The words and number formats of the email in each supported language (Dutch first, English second)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

# Babel locale used for money: "nl" gives "€ 34,95", "en" gives "€34.95".
BABEL_LOCALES = {"nl": "nl_NL", "en": "en_IE"}

STRINGS: dict[str, dict[str, str]] = {
    "nl": {
        "read_more": "Lees verder",
        "order_now": "BESTEL NU!",
        "by": "Door",
        "with": "Met",
        "and": "&",
        "order_heading": "Nu te bestellen",
        "view_in_browser": "Bekijk deze e-mail in je browser",
        "unsubscribe": "Afmelden",
        "preferences": "Voorkeuren",
        "why": "Je ontvangt deze nieuwsbrief omdat je je hebt aangemeld bij {brand}.",
        "order_link": "Bestellen",
        "reader": "lezer",  # {first_name} for a subscriber without a name: "Beste lezer,"
    },
    "en": {
        "read_more": "Read more",
        "order_now": "ORDER NOW",
        "by": "By",
        "with": "With",
        "and": "and",
        "order_heading": "Order now",
        "view_in_browser": "View this email in your browser",
        "unsubscribe": "Unsubscribe",
        "preferences": "Preferences",
        "why": "You receive this newsletter because you subscribed to {brand}.",
        "order_link": "Order",
        "reader": "reader",
    },
}


def format_price(amount: Decimal, currency: str, locale: str) -> str:
    """Money as readers of the locale write it; the non-breaking space keeps '€' and amount together."""
    # Babel takes ~30 ms to import; commands that print no price (status, audience, --help) skip it.
    from babel.numbers import format_currency

    return str(format_currency(amount, currency, locale=BABEL_LOCALES[locale]))


def format_number(number: float, locale: str) -> str:
    """A count as readers of the locale write it: 1.000 (nl), 1,000 (en); a fraction with one digit."""
    from babel.numbers import format_decimal

    return str(format_decimal(number, format="#,##0.#", locale=BABEL_LOCALES[locale]))


def format_co_authors(names: Sequence[str], locale: str) -> str:
    """'Met A, B, C & D' in Dutch, 'With A, B, C and D' in English; empty without co-authors."""
    if not names:
        return ""
    words = STRINGS[locale]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {words['and']} {names[-1]}"
    return f"{words['with']} {listed}"
