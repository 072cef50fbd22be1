"""Stripe Products, Prices and Payment Links for the books in campaigns — each made once, ever.

A duplicate Payment Link splits the sales report and a duplicate Price confuses the shop, so every
object is found before it is created (Product by sku metadata, Price by lookup key, Payment Link by
metadata), every create carries a deterministic Idempotency-Key (a retry after a timeout, or a rerun
after a crash between Stripe's answer and the lock write, gets the first object back), and what Stripe
confirmed is recorded in the project's lock file, so that a rebuild makes no request at all.

Only this module talks to Stripe, and only through the official SDK, imported when a request is needed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from newsletter.errors import NewsletterError
from newsletter.payments.lock import Lock, LockedLink, Mode, cents, load_lock, save_lock
from newsletter.project.campaign import Book, Campaign
from newsletter.project.settings import Project, StripeSettings

if TYPE_CHECKING:
    from stripe import StripeClient
    from stripe.params import PaymentLinkCreateParams

RATE_LIMIT_DELAY = 1.0  # seconds before the first retry after a 429; doubled each time
T = TypeVar("T")
Action = Literal["created", "reused"]

INACTIVE_MESSAGE = {
    "nl": "Deze aanbieding is afgelopen. Kijk in onze webwinkel voor de actuele prijs.",
    "en": "This offer has ended. Please visit our web shop for the current price.",
}


# -- talking to Stripe -------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    link: LockedLink
    book: Book
    product: Action
    price: Action
    payment_link: Action
    deactivated: tuple[str, ...] = ()  # earlier links of this book in this campaign, switched off


def api_key(*, live_allowed: bool) -> tuple[str, Mode]:
    """The key from STRIPE_API_KEY; a live key only where the project says it sells for real."""
    key = os.environ.get("STRIPE_API_KEY", "").strip()
    if not key:
        raise NewsletterError(
            "STRIPE_API_KEY is not set",
            hint="export a test key (sk_test_... or rk_test_...) from the Stripe dashboard",
        )
    mode: Mode = "live" if key.startswith(("sk_live_", "rk_live_")) else "test"
    if mode == "live" and not live_allowed:
        raise NewsletterError(
            "STRIPE_API_KEY is a live key, and this project does not sell for real",
            hint="use a test key, or set `live = true` under [stripe] in newsletter.toml (or pass --live)",
        )
    return key, mode


def make_client(project: Project, key: str) -> StripeClient:
    import stripe  # heavy: only when a request is really needed

    settings = project.settings.stripe or StripeSettings()
    base = os.environ.get("STRIPE_API_BASE") or settings.api_base
    return stripe.StripeClient(
        key,
        base_addresses={"api": base} if base else None,
        max_network_retries=settings.max_network_retries,
    )


def sync_campaigns(
    project: Project, campaigns: Sequence[Campaign], *, live: bool = False
) -> Iterator[SyncResult]:
    """Make sure every book of every campaign has its Payment Link; yields one result per book."""
    settings = project.settings.stripe or StripeSettings()
    key, mode = api_key(live_allowed=live or settings.live)
    lock = load_lock(project)
    client: StripeClient | None = None
    for campaign in campaigns:
        for book in campaign.books:
            locked = lock.find(campaign.id, book.sku, cents(book.price), mode)
            if locked is not None and locked.active:
                yield SyncResult(locked, book, "reused", "reused", "reused")
                continue
            client = client or make_client(project, key)
            with stripe_errors(book):
                sync_book = partial(_sync_book, client, settings, lock, campaign, book, mode)
                result = retry_rate_limited(sync_book, settings.max_network_retries)
            lock = lock.put(result.link)
            for old in result.deactivated:
                previous = next(link for link in lock.links if link.payment_link == old)
                lock = lock.put(replace(previous, active=False))
            save_lock(project, lock)  # after every book: what Stripe confirmed is never lost
            yield result


def _sync_book(
    client: StripeClient, settings: StripeSettings, lock: Lock, campaign: Campaign, book: Book, mode: Mode
) -> SyncResult:
    amount = cents(book.price)
    product_id, product_action = _product(client, lock, book, mode)
    price_id, price_action = _price(client, settings, product_id, book, amount, mode)
    link, link_action = _payment_link(client, settings, campaign, book, price_id, mode)
    deactivated = tuple(
        _deactivate(client, old.payment_link, campaign)
        for old in lock.others(campaign.id, book.sku, amount, mode)
    )
    locked = LockedLink(
        campaign=campaign.id,
        sku=book.sku,
        amount=amount,
        currency="eur",
        mode=mode,
        product=product_id,
        price=price_id,
        payment_link=link["id"],
        url=link["url"],
        active=True,
    )
    return SyncResult(locked, book, product_action, price_action, link_action, deactivated)


def _product(client: StripeClient, lock: Lock, book: Book, mode: Mode) -> tuple[str, Action]:
    known = lock.product_of(book.sku, mode)
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
        options={"idempotency_key": f"newsletter-product-{mode}-{book.sku}"},
    )
    return product.id, "created"


def lookup_key(sku: str) -> str:
    """One lookup key per book names its current price; a new price takes it over."""
    return f"book-{sku}-eur"


def _price(
    client: StripeClient, settings: StripeSettings, product: str, book: Book, amount: int, mode: Mode
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
            "tax_behavior": settings.tax_behavior,
            "lookup_key": key,
            "transfer_lookup_key": True,
            "metadata": {"sku": book.sku},
        },
        options={"idempotency_key": f"newsletter-price-{mode}-{book.sku}-{amount}"},
    )
    if current:
        client.v1.prices.update(current[0].id, params={"active": False})
    return price.id, "created"


def _payment_link(
    client: StripeClient, settings: StripeSettings, campaign: Campaign, book: Book, price: str, mode: Mode
) -> tuple[Any, Action]:
    metadata = {"campaign": campaign.id, "sku": book.sku, "price": price}
    for link in client.v1.payment_links.list(params={"active": True, "limit": 100}).auto_paging_iter():
        if link.metadata is not None and link.metadata.to_dict() == metadata:
            return link, "reused"
    params: PaymentLinkCreateParams = {
        "line_items": [
            {
                "price": price,
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
    link = client.v1.payment_links.create(
        params=params,
        options={"idempotency_key": f"newsletter-link-{mode}-{campaign.id}-{book.sku}-{price}"},
    )
    return link, "created"


def _deactivate(client: StripeClient, payment_link: str, campaign: Campaign) -> str:
    client.v1.payment_links.update(
        payment_link, params={"active": False, "inactive_message": INACTIVE_MESSAGE[campaign.locale]}
    )
    return payment_link


def deactivate_campaign(project: Project, campaign: Campaign, *, live: bool = False) -> list[LockedLink]:
    """Switch off a campaign's links when its promotion ends; Stripe then shows the inactive message."""
    settings = project.settings.stripe or StripeSettings()
    key, mode = api_key(live_allowed=live or settings.live)
    lock = load_lock(project)
    active = [link for link in lock.of_campaign(campaign.id) if link.active and link.mode == mode]
    client = make_client(project, key) if active else None
    done = []
    for link in active:
        assert client is not None
        book = next((b for b in campaign.books if b.sku == link.sku), None)
        with stripe_errors(book):
            retry_rate_limited(
                partial(_deactivate, client, link.payment_link, campaign), settings.max_network_retries
            )
        lock = lock.put(replace(link, active=False))
        save_lock(project, lock)
        done.append(replace(link, active=False))
    return done


def retry_rate_limited(call: Callable[[], T], retries: int) -> T:
    """The SDK retries connection errors and 5xx itself, but not 429: that is done here, with backoff.

    Repeating a whole step is safe because every create in it has a deterministic idempotency key.
    """
    import stripe

    for attempt in range(retries):
        try:
            return call()
        except stripe.RateLimitError:
            time.sleep(min(RATE_LIMIT_DELAY * 2**attempt, 8.0))
    return call()


@contextmanager
def stripe_errors(book: Book | None) -> Iterator[None]:
    """Stripe's exceptions become messages that name the book and what to do; the key is never shown."""
    import stripe

    what = f"book '{book.sku}'" if book else "Stripe"
    try:
        yield
    except stripe.AuthenticationError:
        raise NewsletterError(
            f"{what}: Stripe did not accept STRIPE_API_KEY", hint="check the key in the Stripe dashboard"
        ) from None
    except stripe.PermissionError:
        raise NewsletterError(
            f"{what}: the restricted key lacks a permission",
            hint="give the key write access to Products, Prices and Payment Links, or use a secret key",
        ) from None
    except stripe.RateLimitError:
        raise NewsletterError(
            f"{what}: Stripe kept answering 'too many requests' after retrying",
            hint="wait a minute, then rerun",
        ) from None
    except stripe.APIConnectionError:
        raise NewsletterError(
            f"{what}: Stripe could not be reached",
            hint="check the network (and STRIPE_API_BASE); rerun safely",
        ) from None
    except stripe.InvalidRequestError as exc:
        param = f" (parameter {exc.param})" if exc.param else ""
        raise NewsletterError(f"{what}: Stripe refused the request{param}: {exc.user_message}") from None
    except stripe.StripeError as exc:
        raise NewsletterError(
            f"{what}: Stripe answered with an error: {exc.user_message}",
            hint="rerun: nothing is created twice",
        ) from None


# -- what a campaign sold ------------------------------------------------------------------------


@dataclass(frozen=True)
class BookSales:
    sku: str
    payment_link: str
    mode: Mode
    amount: int  # the link's unit price, cents
    checkouts: int
    quantity: int
    revenue: int  # cents, what buyers paid (after discounts, with tax and shipping)
    currency: str = "eur"


def sales_report(project: Project, campaign: Campaign, *, live: bool = False) -> list[BookSales]:
    """Completed Checkout Sessions of each of the campaign's links, summed per link."""
    settings = project.settings.stripe or StripeSettings()
    key, mode = api_key(live_allowed=live or settings.live)
    links = [link for link in load_lock(project).of_campaign(campaign.id) if link.mode == mode]
    if not links:
        return []
    client = make_client(project, key)
    books = {book.sku: book for book in campaign.books}
    sales = []
    for link in links:
        with stripe_errors(books.get(link.sku)):
            sales.append(retry_rate_limited(partial(_sales, client, link), settings.max_network_retries))
    return sales


def _sales(client: StripeClient, link: LockedLink) -> BookSales:
    checkouts = quantity = revenue = 0
    sessions = client.v1.checkout.sessions.list(
        params={
            "payment_link": link.payment_link,
            "status": "complete",
            "limit": 100,
            "expand": ["data.line_items"],
        }
    )
    for session in sessions.auto_paging_iter():
        checkouts += 1
        revenue += session.amount_total or 0
        items = session.line_items.data if session.line_items else []
        quantity += sum(item.quantity or 0 for item in items)
    return BookSales(link.sku, link.payment_link, link.mode, link.amount, checkouts, quantity, revenue)
