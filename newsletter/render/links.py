"""Every link an email carries: where it goes, which block it belongs to, and what kind it is.

Links are decided here, before rendering, so that the templates only print them and the build can
list every one of them in `meta.json` (the review page and the checks read that list). Own-site links
get UTM parameters so the publisher's analytics can attribute visits to a campaign and block; order,
unsubscribe and third-party links do not (UTM on a Stripe link or an unsubscribe URL only adds noise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from newsletter.project.models import Book, Campaign
from newsletter.project.settings import Settings


class LinkKind(StrEnum):
    SITE = "site"  # the publisher's own site, with UTM
    EXTERNAL = "external"  # somebody else's site, untouched
    ORDER_SHOP = "order-shop"  # the order button, falling back to the book's shop page
    ORDER_STRIPE_TEST = "order-stripe-test"  # a Stripe Payment Link in test mode
    ORDER_STRIPE_LIVE = "order-stripe-live"  # a Stripe Payment Link that takes real money
    WEB_VERSION = "web-version"
    UNSUBSCRIBE = "unsubscribe"
    PREFERENCES = "preferences"  # the reader's preference page ([signup])


@dataclass(frozen=True)
class Link:
    url: str
    block: str  # e.g. "teaser-1", "book-2", "footer"
    kind: LinkKind
    label: str


OrderLinkProvider = Callable[[Campaign, Book, str], Link]
"""Decides the order button's target for a book in a campaign; `str` is the block name."""


def shop_page_link(campaign: Campaign, book: Book, block: str) -> Link:
    """Until Stripe Payment Links exist for a book, its order button goes to its shop page."""
    return Link(url=book.shop_url, block=block, kind=LinkKind.ORDER_SHOP, label=book.cta or "")


def kind_of(url: str, settings: Settings) -> LinkKind:
    """A content link is the publisher's own (it gets UTM parameters) or somebody else's."""
    return LinkKind.SITE if settings.is_own_site(url) else LinkKind.EXTERNAL


def content_link(url: str, *, block: str, label: str, campaign_id: str, settings: Settings) -> Link:
    """A link in the content: own-site links get UTM parameters, others are left as they are."""
    if settings.is_own_site(url):
        if settings.utm.enabled:
            url = with_utm(
                url,
                source=settings.utm.source,
                medium=settings.utm.medium,
                campaign=campaign_id,
                content=block,
            )
        return Link(url=url, block=block, kind=LinkKind.SITE, label=label)
    return Link(url=url, block=block, kind=LinkKind.EXTERNAL, label=label)


def with_utm(url: str, *, source: str, medium: str, campaign: str, content: str) -> str:
    """Add UTM parameters, keeping the URL's own query and any UTM value it already sets."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    utm = {"utm_source": source, "utm_medium": medium, "utm_campaign": campaign, "utm_content": content}
    query += [(key, value) for key, value in utm.items() if key not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))
