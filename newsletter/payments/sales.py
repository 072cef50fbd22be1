"""What a campaign sold (`newsletter report`): completed Checkout Sessions of its Payment Links.

A campaign can hold several links for one book (one per price it was offered at, and a sent
campaign keeps its old price's link beside the new one), so sales are summed per price and per
book: one book is one line of the report, never a line per link.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from newsletter.payments.lock import LockedLink, Mode
from newsletter.payments.stripe_api import StripeSession
from newsletter.payments.switching import book_of
from newsletter.project.campaign import Campaign
from newsletter.project.settings import Project

if TYPE_CHECKING:
    from stripe import StripeClient


@dataclass(frozen=True)
class LinkSales:
    checkouts: int
    quantity: int
    revenue: int  # cents, what buyers paid (after discounts, with tax and shipping)


@dataclass(frozen=True)
class PriceSales:
    """The sales of one book at one price, over every link the campaign had at that price."""

    amount: int  # the unit price, cents
    payment_links: tuple[str, ...]
    checkouts: int
    quantity: int
    revenue: int


@dataclass(frozen=True)
class BookSales:
    sku: str
    mode: Mode
    prices: tuple[PriceSales, ...]  # by amount
    currency: str = "eur"

    @property
    def checkouts(self) -> int:
        return sum(price.checkouts for price in self.prices)

    @property
    def quantity(self) -> int:
        return sum(price.quantity for price in self.prices)

    @property
    def revenue(self) -> int:
        return sum(price.revenue for price in self.prices)


def sales_report(project: Project, campaign: Campaign, *, live: bool = False) -> list[BookSales]:
    """Completed Checkout Sessions of each of the campaign's links, summed per price and per book,
    in the campaign's order of books (then books it no longer lists)."""
    session = StripeSession(project, live=live)
    links = session.lock.of_campaign(campaign.id, session.mode)
    if any(link.sent for link in links):  # it went out: a link made since (a new price) was never in it
        links = [link for link in links if link.sent]
    sold = {
        link.payment_link: session.call(book_of(campaign, link.sku), partial(_sales, link=link))
        for link in links
    }
    linked = {link.sku for link in links}
    listed = [book.sku for book in campaign.books if book.sku in linked]
    skus = list(dict.fromkeys(listed)) + sorted(linked - set(listed))
    return [_book(sku, session.mode, [link for link in links if link.sku == sku], sold) for sku in skus]


def _book(sku: str, mode: Mode, links: list[LockedLink], sold: dict[str, LinkSales]) -> BookSales:
    prices = []
    for amount in sorted({link.amount for link in links}):
        ids = tuple(link.payment_link for link in links if link.amount == amount)
        parts = [sold[payment_link] for payment_link in ids]
        prices.append(
            PriceSales(
                amount=amount,
                payment_links=ids,
                checkouts=sum(part.checkouts for part in parts),
                quantity=sum(part.quantity for part in parts),
                revenue=sum(part.revenue for part in parts),
            )
        )
    return BookSales(sku, mode, tuple(prices))


def _sales(client: StripeClient, link: LockedLink) -> LinkSales:
    checkouts = quantity = revenue = 0
    sessions = client.v1.checkout.sessions.list(
        params={
            "payment_link": link.payment_link,
            "status": "complete",
            "limit": 100,
            "expand": ["data.line_items"],
        }
    )
    for checkout in sessions.auto_paging_iter():
        checkouts += 1
        revenue += checkout.amount_total or 0
        items = checkout.line_items.data if checkout.line_items else []
        quantity += sum(item.quantity or 0 for item in items)
    return LinkSales(checkouts, quantity, revenue)
