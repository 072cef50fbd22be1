"""When an order button does not take the reader to a Payment Link that can take their money.

One policy for `build` (its warnings), `newsletter check` (its findings) and `newsletter send` (what
stops a real send), so the three cannot disagree on which book is a problem:

- a shop-page fallback (LinkKind.ORDER_SHOP) matters only in a project that sells through Stripe:
  readers can still buy at the shop, so it is a warning, or an error in a live project;
- a test-mode Payment Link takes no money: an error in a live project, where any link to a test-mode
  Stripe URL counts too (a template may write one itself); in a test project `check` accepts it, as
  that is what test mode is for, but a real send still must not go out with it.

Every problem returned stops a real send; `severity` is what `check` makes of it.

What counts as a Stripe Payment Link is decided here too (`payment_link_mode`): the lock reader
(payments/lock.py) refuses any other URL, so an order button can only ever go to Stripe's own
checkout host. A Payment Link that was switched off (`newsletter links deactivate`, a promotion's
`ends:` date, a price change) is never an order button: the book falls back to its shop page, which
is the SHOP_FALLBACK problem above, so a campaign that is no longer selling cannot be sent by mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from newsletter.render.links import Link, LinkKind

if TYPE_CHECKING:
    from newsletter.project.models import Book
    from newsletter.render.renderer import Rendered

Severity = Literal["error", "warning"]

# Stripe answers a Payment Link create with `url` on its own host, https://buy.stripe.com/, followed
# by the link's code: letters and digits, prefixed `test_` in test mode (live: no prefix). Nothing
# else: no port, no user, no query, no fragment, exactly as Stripe writes it. (A Stripe account with
# a custom checkout domain would need that domain configured; this tool does not support one yet.)
PAYMENT_LINK_HOST = "buy.stripe.com"
_PAYMENT_LINK_URL = re.compile(r"https://buy\.stripe\.com/(?P<test>test_)?[A-Za-z0-9]+")


class OrderIssue(StrEnum):
    """Why an order button is a problem; the values are the rule ids of `newsletter check`."""

    SHOP_FALLBACK = "order-link-fallback"
    TEST_MODE = "order-link-test-mode"


@dataclass(frozen=True)
class OrderLinkProblem:
    issue: OrderIssue
    block: str  # "book-1"; "template" for a Stripe link a template wrote itself
    sku: str | None  # the book of the block; None when the block is not a book's
    url: str
    kind: LinkKind
    severity: Severity | None  # in `check`; None: only a real send stops for it


def order_link_problems(
    rendered: Rendered, *, sells_through_stripe: bool, live: bool
) -> tuple[OrderLinkProblem, ...]:
    """The order problems of a rendered campaign, in the order of its links.

    `sells_through_stripe`: the project has Stripe settings or a lock file, so Payment Links are
    expected. `live`: it sells for real (`[stripe] live = true`).
    """
    problems: list[OrderLinkProblem] = []
    for link in rendered.links:
        sku = _book_sku(link.block, rendered.campaign.books)
        if link.kind is LinkKind.ORDER_SHOP and sells_through_stripe:
            severity: Severity = "error" if live else "warning"
            problems.append(_problem(OrderIssue.SHOP_FALLBACK, link, sku, severity))
        if link.kind is LinkKind.ORDER_STRIPE_TEST or (live and is_stripe_test_url(link.url)):
            problems.append(_problem(OrderIssue.TEST_MODE, link, sku, "error" if live else None))
    return tuple(problems)


def payment_link_mode(url: str) -> Literal["test", "live"] | None:
    """The mode of a Stripe Payment Link URL, or None when the URL is not one (and must not become an
    order button): the one rule for what the lock file may hold and what a sync may record."""
    match = _PAYMENT_LINK_URL.fullmatch(url)
    if match is None:
        return None
    return "test" if match.group("test") else "live"


def is_stripe_test_url(url: str) -> bool:
    """Stripe serves test-mode Payment Links under buy.stripe.com/test_..."""
    parts = urlsplit(url)
    return (parts.hostname or "").lower() == "buy.stripe.com" and parts.path.startswith("/test_")


def _problem(issue: OrderIssue, link: Link, sku: str | None, severity: Severity | None) -> OrderLinkProblem:
    return OrderLinkProblem(
        issue=issue, block=link.block, sku=sku, url=link.url, kind=link.kind, severity=severity
    )


def _book_sku(block: str, books: tuple[Book, ...]) -> str | None:
    """Block "book-2" is the campaign's second book; the view numbers the books from 1."""
    number = block.removeprefix("book-")
    if number.isdigit() and 0 < int(number) <= len(books):
        return books[int(number) - 1].sku
    return None
