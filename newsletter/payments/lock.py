"""The lock file (payments.lock.json): the Payment Links Stripe confirmed, and the order buttons they make.

A build reads only this file, never Stripe: the renderer's order buttons come from here, so a
rebuild is offline and makes no request. `newsletter links sync` (stripe_links.py) writes it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal
from urllib.parse import urlencode, urlsplit

from newsletter.errors import NewsletterError
from newsletter.files import atomic_write
from newsletter.project.campaign import Book, Campaign
from newsletter.project.settings import Project
from newsletter.render.links import Link, LinkKind, OrderLinkProvider, shop_page_link

LOCK_FILE = "payments.lock.json"
Mode = Literal["test", "live"]


@dataclass(frozen=True)
class LockedLink:
    """One Payment Link for one book in one campaign at one price, as Stripe confirmed it."""

    campaign: str
    sku: str
    amount: int  # cents
    currency: str
    mode: Mode
    product: str
    price: str
    payment_link: str
    url: str
    active: bool = True


@dataclass(frozen=True)
class Lock:
    links: tuple[LockedLink, ...] = ()

    def find(self, campaign: str, sku: str, amount: int, mode: Mode) -> LockedLink | None:
        for link in self.links:
            if (link.campaign, link.sku, link.amount, link.mode) == (campaign, sku, amount, mode):
                return link
        return None

    def product_of(self, sku: str, mode: Mode) -> str | None:
        return next((link.product for link in self.links if (link.sku, link.mode) == (sku, mode)), None)

    def others(self, campaign: str, sku: str, amount: int, mode: Mode) -> list[LockedLink]:
        """The campaign's earlier links for this book: at another price, still switched on."""
        return [
            link
            for link in self.links
            if (link.campaign, link.sku, link.mode) == (campaign, sku, mode)
            and link.amount != amount
            and link.active
        ]

    def of_campaign(self, campaign: str) -> list[LockedLink]:
        return [link for link in self.links if link.campaign == campaign]

    def put(self, new: LockedLink) -> Lock:
        kept = [link for link in self.links if link.payment_link != new.payment_link]
        return Lock(tuple(sorted([*kept, new], key=lambda x: (x.campaign, x.sku, x.mode, x.amount))))


def lock_path(project: Project) -> Path:
    return project.root / LOCK_FILE


def load_lock(project: Project) -> Lock:
    path = lock_path(project)
    if not path.exists():
        return Lock()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Lock(tuple(LockedLink(**entry) for entry in data["links"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise NewsletterError(
            f"the lock file cannot be read: {exc}",
            path=path,
            hint="restore it from version control, or delete it: `newsletter links sync` finds the links",
        ) from None


def save_lock(project: Project, lock: Lock) -> None:
    data = {"version": 1, "links": [asdict(link) for link in lock.links]}
    atomic_write(lock_path(project), json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# -- order links for the renderer ------------------------------------------------------------


def cents(amount: Decimal) -> int:
    return int(amount * 100)


def order_link_provider(project: Project) -> OrderLinkProvider:
    """Order buttons go to the locked Payment Link of the project's mode, else to the shop page."""
    lock = load_lock(project)
    mode: Mode = "live" if project.settings.stripe_live else "test"

    def order_link(campaign: Campaign, book: Book, block: str) -> Link:
        locked = lock.find(campaign.id, book.sku, cents(book.price), mode)
        if locked is None or not locked.active:
            return shop_page_link(campaign, book, block)
        kind = LinkKind.ORDER_STRIPE_LIVE if mode == "live" else LinkKind.ORDER_STRIPE_TEST
        return Link(url=locked.url, block=block, kind=kind, label=book.cta or "")

    return order_link


def sells_through_stripe(project: Project) -> bool:
    """A project with Stripe settings or a lock file expects Payment Links: a shop fallback is a warning."""
    return project.settings.stripe is not None or lock_path(project).exists()


def personalised_order_url(url: str, *, email: str, campaign_id: str, subscriber_id: str | int) -> str:
    """The order link of one recipient: Stripe fills in the email and attributes the sale to the send.

    Payment Links take both as URL parameters; the reference allows letters, digits, '-' and '_', at
    most 200 characters.
    """
    reference = re.sub(r"[^A-Za-z0-9_-]", "-", f"{campaign_id}_{subscriber_id}")[:200]
    separator = "&" if urlsplit(url).query else "?"
    return url + separator + urlencode({"prefilled_email": email, "client_reference_id": reference})
