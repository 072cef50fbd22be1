"""Stripe Products, Prices and Payment Links for the books in campaigns — each made once, ever.

A duplicate Payment Link splits the sales report and a duplicate Price confuses the shop, so every
object is found before it is created (Product by sku metadata, Price by lookup key, Payment Link by
metadata), every create carries a deterministic Idempotency-Key (a retry after a timeout, or a rerun
after a crash between Stripe's answer and the lock write, gets the first object back), and what Stripe
confirmed is recorded in the project's lock file, so that a rebuild makes no request at all.

A sync records links as they really are: a link found or replayed switched off stays off (only
`links activate` switches a campaign on again, switching.py), a campaign whose promotion ended
(`ends:`) is switched off, and a price change keeps the links that went out in an email on at their
price (lock.record_sent) while the campaign gets a new link for the new price.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from newsletter.errors import NewsletterError
from newsletter.payments.lock import LockedLink, Mode, cents, url_problem
from newsletter.payments.stripe_api import StripeSession, replayed
from newsletter.payments.switching import (
    INACTIVE_MESSAGE,
    promotion_ended,
    switch_off,
    switch_off_campaign,
)
from newsletter.project.campaign import Book, Campaign
from newsletter.project.settings import Project

if TYPE_CHECKING:
    from stripe import StripeClient
    from stripe.params import PaymentLinkCreateParams

# What a sync did with each object: "inactive" is a campaign left switched off (`links activate`),
# "ended" one whose promotion is over; "-" is nothing at all.
Action = Literal["created", "reused", "reactivated", "inactive", "ended", "-"]


@dataclass(frozen=True)
class SyncResult:
    campaign: str
    book: Book
    link: LockedLink | None  # at the book's current price; None when the campaign, off, has none
    product: Action = "-"
    price: Action = "-"
    payment_link: Action = "-"
    deactivated: tuple[str, ...] = ()  # earlier links of this book in this campaign, switched off now
    kept: tuple[str, ...] = ()  # earlier links that went out in an email: left on at their price


def sync_campaigns(
    project: Project, campaigns: Sequence[Campaign], *, live: bool = False, today: date | None = None
) -> Iterator[SyncResult]:
    """Make sure every book of every campaign has its Payment Link; yields one result per book."""
    session = StripeSession(project, live=live)
    today = today or date.today()
    for campaign in campaigns:
        if promotion_ended(campaign, today):
            yield from _end(session, campaign)
        elif session.lock.switched_off(campaign.id, session.mode):
            yield from _left_off(session, campaign, "inactive")
        else:
            for book in campaign.books:
                yield _sync_book(session, campaign, book)


def _end(session: StripeSession, campaign: Campaign) -> Iterator[SyncResult]:
    done = switch_off_campaign(session, campaign, "ended")
    for result in _left_off(session, campaign, "ended"):
        yield replace(result, deactivated=tuple(x.payment_link for x in done if x.sku == result.book.sku))


def _left_off(session: StripeSession, campaign: Campaign, action: Action) -> Iterator[SyncResult]:
    for book in campaign.books:
        link = session.lock.find(campaign.id, book.sku, cents(book.price), session.mode)
        yield SyncResult(campaign.id, book, link, payment_link=action)


def _sync_book(session: StripeSession, campaign: Campaign, book: Book) -> SyncResult:
    amount = cents(book.price)
    locked = session.lock.find(campaign.id, book.sku, amount, session.mode)
    if locked is not None and locked.active:
        # One read, so that a link switched off in Stripe's dashboard is not sent out as if it sold.
        link_id = locked.payment_link
        if session.call(book, lambda client: bool(client.v1.payment_links.retrieve(link_id).active)):
            return SyncResult(campaign.id, book, locked, "reused", "reused", "reused")
        locked = replace(locked, active=False, off="deactivated")
        session.record(locked)
        return SyncResult(campaign.id, book, locked, "reused", "reused", "inactive")
    product, product_action = session.call(book, lambda client: _product(client, session, book))
    price, price_action = session.call(book, lambda client: _price(client, session, product, book, amount))
    link, link_action = session.call(
        book, lambda client: _payment_link(client, session, campaign, book, (product, price))
    )
    session.record(link)
    deactivated, kept = [], []
    for old in session.lock.others(campaign.id, book.sku, amount, session.mode):
        if old.sent:
            kept.append(old.payment_link)
            continue
        session.call(book, partial(switch_off, payment_link=old.payment_link, campaign=campaign))
        session.record(replace(old, active=False, off="new-price"))
        deactivated.append(old.payment_link)
    return SyncResult(
        campaign.id, book, link, product_action, price_action, link_action, tuple(deactivated), tuple(kept)
    )


def _product(client: StripeClient, session: StripeSession, book: Book) -> tuple[str, Action]:
    known = session.lock.product_of(book.sku, session.mode)
    if known:
        return known, "reused"
    found = client.v1.products.search(params={"query": f"metadata['sku']:'{book.sku}'"})
    if found.data:
        return found.data[0].id, "reused"
    product = client.v1.products.create(
        params={
            "name": book.title,
            "description": book.subtitle or book.title,
            "images": [book.cover_url],
            "url": book.shop_url,
            "metadata": {"sku": book.sku},
        },
        options={"idempotency_key": f"newsletter-product-{session.mode}-{book.sku}"},
    )
    return product.id, "created"


def lookup_key(sku: str) -> str:
    """One lookup key per book names its current price; a new price takes it over."""
    return f"book-{sku}-eur"


def _price(
    client: StripeClient, session: StripeSession, product: str, book: Book, amount: int
) -> tuple[str, Action]:
    key = lookup_key(book.sku)
    current = client.v1.prices.list(params={"lookup_keys": [key], "limit": 1}).data
    if current and current[0].unit_amount == amount and current[0].product == product and current[0].active:
        return current[0].id, "reused"
    price = client.v1.prices.create(
        params={
            "product": product,
            "currency": "eur",
            "unit_amount": amount,
            "tax_behavior": session.settings.tax_behavior,
            "lookup_key": key,
            "transfer_lookup_key": True,
            "metadata": {"sku": book.sku},
        },
        options={"idempotency_key": f"newsletter-price-{session.mode}-{book.sku}-{amount}"},
    )
    action: Action = "created"
    if replayed(price):  # the price went back to an earlier amount: that Price, as it is now
        price, action = client.v1.prices.retrieve(price.id), "reused"
    if not price.active or price.lookup_key != key:
        params: Any = {"active": True, "lookup_key": key, "transfer_lookup_key": True}
        price = client.v1.prices.update(price.id, params=params)
    old = current[0] if current and current[0].id != price.id else None
    if old is not None and old.active and not session.lock.sells_at(old.id):
        client.v1.prices.update(old.id, params={"active": False})  # a sent email's stays (switching.py)
    return price.id, action


def _payment_link(
    client: StripeClient, session: StripeSession, campaign: Campaign, book: Book, ids: tuple[str, str]
) -> tuple[LockedLink, Action]:
    """The campaign's link for the book at this Price, found (switched off ones too) or created, and
    recorded as Stripe says it is now."""
    product, price = ids
    metadata = {"campaign": campaign.id, "sku": book.sku, "price": price}
    found = next(
        (
            link
            for link in client.v1.payment_links.list(params={"limit": 100}).auto_paging_iter()
            if link.metadata is not None and link.metadata.to_dict() == metadata
        ),
        None,
    )
    action: Action = "reused"
    if found is None:
        found = _create_link(client, session, campaign, book, metadata)
        action = "created"
    locked = _confirmed(found, campaign, book, product, price, session.mode)
    earlier = session.lock.by_id(locked.payment_link)
    locked = replace(locked, sent=earlier.sent if earlier else False)
    if locked.active:
        return locked, action
    if earlier is not None and earlier.off == "new-price":  # its price is the current one again
        client.v1.payment_links.update(locked.payment_link, params={"active": True})
        return replace(locked, active=True), "reactivated"
    return replace(locked, off=earlier.off if earlier and earlier.off else "deactivated"), "inactive"


def _create_link(
    client: StripeClient, session: StripeSession, campaign: Campaign, book: Book, metadata: dict[str, str]
) -> Any:
    settings = session.settings
    params: PaymentLinkCreateParams = {
        "line_items": [
            {
                "price": metadata["price"],
                "quantity": 1,
                "adjustable_quantity": {"enabled": True, "minimum": 1, "maximum": settings.max_quantity},
            }
        ],
        "shipping_address_collection": {"allowed_countries": list(settings.shipping_countries)},
        "allow_promotion_codes": settings.allow_promotion_codes,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "inactive_message": INACTIVE_MESSAGE[campaign.locale],
    }
    if settings.thank_you_url:
        params["after_completion"] = {"type": "redirect", "redirect": {"url": settings.thank_you_url}}
    if settings.payment_method_types:
        params["payment_method_types"] = list(settings.payment_method_types)
    key = f"newsletter-link-{session.mode}-{campaign.id}-{book.sku}-{metadata['price']}"
    link = client.v1.payment_links.create(params=params, options={"idempotency_key": key})
    return client.v1.payment_links.retrieve(link.id) if replayed(link) else link


def _confirmed(link: Any, campaign: Campaign, book: Book, product: str, price: str, mode: Mode) -> LockedLink:
    """What Stripe answered, as the lock records it; a URL that is not a Stripe Payment Link in the
    key's mode (a wrong STRIPE_API_BASE, say) is refused before it can become an order button."""
    problem = url_problem(link.url, mode)
    if problem:
        raise NewsletterError(
            f"book '{book.sku}' in campaign {campaign.id}: Stripe's answer is not usable: {problem}",
            hint="check STRIPE_API_BASE: only Stripe itself (or a faithful test server) can be used",
        )
    return LockedLink(
        campaign=campaign.id,
        sku=book.sku,
        amount=cents(book.price),
        currency="eur",
        mode=mode,
        product=product,
        price=price,
        payment_link=link.id,
        url=link.url,
        active=bool(link.active),
    )
