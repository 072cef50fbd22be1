"""The fixed book price law (Wet op de vaste boekenprijs): a printed book in Dutch or Frisian is sold at
the price its publisher fixed, with no promotion code off it, and that price changes only as the law
allows. The rules are project/price_law.py's, which `links sync` applies in the same words."""

from __future__ import annotations

from collections.abc import Iterator

from newsletter.project import price_law
from newsletter.review.checks.document import Email
from newsletter.review.checks.registry import Finding, Rule, rule

LAW = f"[{price_law.LAW}]({price_law.LAW_URL})"


@rule(
    {
        "fixed-price-promotion-codes": Rule(
            "error",
            "a printed book in Dutch or Frisian is sold at its fixed price: no promotion codes "
            f"(`[stripe] allow_promotion_codes`) on its Payment Link unless `fixed_price_lifted:` "
            f"says the fixed price was lifted ({LAW}, art. 1 and 3)",
        ),
        "fixed-price-change": Rule(
            "error",
            "a fixed price is in effect (`price_since` is not after today), and one that took effect "
            "less than six months after the price before it passed on a change of the VAT rate "
            f"(`price_vat_change`), or that half year has run ({LAW}, art. 5)",
        ),
    }
)
def fixed_price(email: Email) -> Iterator[Finding]:
    stripe = email.settings.stripe
    allow_codes = stripe is not None and stripe.allow_promotion_codes
    for number, book in enumerate(email.campaign.books, 1):
        codes = price_law.promotion_code_problem(book, allow_codes, email.today)
        if codes:
            yield email.finding("fixed-price-promotion-codes", "error", f"book-{number}", codes)
        price = price_law.price_change_problem(book, email.today)
        if price:
            yield email.finding("fixed-price-change", "error", f"book-{number}", price.message)
