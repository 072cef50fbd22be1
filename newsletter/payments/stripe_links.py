"""Stripe Products, Prices and Payment Links for the books in campaigns — each made once, ever.

A duplicate Payment Link splits the sales report and a duplicate Price confuses the shop, so every
object is found before it is created (Product by sku metadata, Price by lookup key, Payment Link by
metadata), every create carries a deterministic Idempotency-Key (a retry after a timeout, or a rerun
after a crash between Stripe's answer and the lock write, gets the first object back), and what Stripe
confirmed is recorded in the project's lock file, so that a rebuild makes no request at all.

A sync records links as they really are: a link found or replayed switched off stays off (only
`links activate` switches a campaign on again, switching.py), a campaign whose promotion ended
(`ends:`) is switched off, and a price change keeps the links that went out in an email on at their
price (lock.record_sent) while the campaign gets a new link for the new price. A change of the
settings a link is made with (its terms, lock.link_terms) is a change like that of a price. A book the
fixed book price law does not let the settings sell so (project/price_law.py) stops the sync before
its first request.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from newsletter.errors import NewsletterError, NewsletterErrors
from newsletter.payments.lock import SUPERSEDED, LockedLink, Mode, cents, link_terms, url_problem
from newsletter.payments.stripe_api import StripeSession, replayed
from newsletter.payments.switching import (
    INACTIVE_MESSAGE,
    promotion_ended,
    switch_off,
    switch_off_campaign,
)
from newsletter.project import price_law
from newsletter.project.campaign import Book, Campaign
from newsletter.project.settings import SETTINGS_FILE, Project, StripeSettings, setting_line
from newsletter.project.validation import load_yaml

if TYPE_CHECKING:
    from stripe import StripeClient
    from stripe.params import PaymentLinkCreateParams, ProductCreateParams

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
    """Make sure every book of every campaign has its Payment Link; yields one result per book.

    A book that may not be sold so (the fixed book price law, project/price_law.py) stops the sync
    before its first request, with every such book named."""
    session = StripeSession(project, live=live)
    law_day = today or price_law.today()
    today = today or date.today()
    selling = [
        campaign
        for campaign in campaigns
        if not promotion_ended(campaign, today) and not session.lock.switched_off(campaign.id, session.mode)
    ]
    problems = law_problems(project, selling, law_day)
    if problems:
        raise NewsletterErrors(problems)
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
        terms = link_terms(session.settings, book)
        link = session.lock.find(campaign.id, book.sku, cents(book.price), session.mode, terms)
        yield SyncResult(campaign.id, book, link, payment_link=action)


def law_problems(project: Project, campaigns: Sequence[Campaign], on: date) -> list[NewsletterError]:
    """Why the books of these campaigns may not get a Payment Link as the settings make it: promotion
    codes on a fixed price, or a fixed price not (or not yet) to be asked (price_law.py); each once."""
    allow_codes = (project.settings.stripe or StripeSettings()).allow_promotion_codes
    problems: dict[tuple[str, str], NewsletterError] = {}
    for book in {book.sku: book for campaign in campaigns for book in campaign.books}.values():
        path = project.books_dir / f"{book.sku}.yaml"
        codes = price_law.promotion_code_problem(book, allow_codes, on)
        if codes:
            where = ("stripe", "allow_promotion_codes")
            line = setting_line(project, where)
            problems[book.sku, "codes"] = NewsletterError(
                codes, path=project.root / SETTINGS_FILE, line=line, field=".".join(where)
            )
        price = price_law.price_change_problem(book, on)
        if price:
            line = load_yaml(path)[1].line((price.field,))
            problems[book.sku, "price"] = NewsletterError(
                price.message, path=path, line=line, field=price.field
            )
    return list(problems.values())


def _sync_book(session: StripeSession, campaign: Campaign, book: Book) -> SyncResult:
    amount = cents(book.price)
    terms = link_terms(session.settings, book)
    locked = session.lock.find(campaign.id, book.sku, amount, session.mode, terms)
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
        book, lambda client: _payment_link(client, session, campaign, book, (product, price, terms))
    )
    session.record(link)
    deactivated, kept = [], []
    for old in session.lock.others(campaign.id, book.sku, amount, session.mode, terms):
        if old.sent:
            kept.append(old.payment_link)
            continue
        session.call(book, partial(switch_off, payment_link=old.payment_link, campaign=campaign))
        session.record(replace(old, active=False, off="new-price" if old.amount != amount else "new-terms"))
        deactivated.append(old.payment_link)
    return SyncResult(
        campaign.id, book, link, product_action, price_action, link_action, tuple(deactivated), tuple(kept)
    )


def _product(client: StripeClient, session: StripeSession, book: Book) -> tuple[str, Action]:
    """The book's Product; with Stripe Tax, its tax code is the book's format's (updated when the
    settings name another one: Stripe Tax reads it at every checkout, so no link need change)."""
    tax_code = _tax_code(session, book)
    known = session.lock.product_of(book.sku, session.mode)
    found = None if known else client.v1.products.search(params={"query": f"metadata['sku']:'{book.sku}'"})
    existing = known or (found.data[0].id if found and found.data else None)
    if existing:
        if tax_code and client.v1.products.retrieve(existing).tax_code != tax_code:
            client.v1.products.update(existing, params={"tax_code": tax_code})
        return existing, "reused"
    params: ProductCreateParams = {
        "name": book.title,
        "description": book.subtitle or book.title,
        "images": [book.cover_url],
        "url": book.shop_url,
        "metadata": {"sku": book.sku},
    }
    if tax_code:
        params["tax_code"] = tax_code
    product = client.v1.products.create(
        params=params, options={"idempotency_key": f"newsletter-product-{session.mode}-{book.sku}"}
    )
    return product.id, "created"


def _tax_code(session: StripeSession, book: Book) -> str | None:
    settings = session.settings
    if not settings.automatic_tax:
        return None
    return settings.tax_code if book.format == "printed" else settings.ebook_tax_code


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
    client: StripeClient, session: StripeSession, campaign: Campaign, book: Book, ids: tuple[str, str, str]
) -> tuple[LockedLink, Action]:
    """The campaign's link for the book at this Price and these terms (lock.link_terms), found
    (switched off ones too) or created, and recorded as Stripe says it is now."""
    product, price, terms = ids
    metadata = {
        "campaign": campaign.id,
        "sku": book.sku,
        "price": price,
        **({"terms": terms} if terms else {}),
    }
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
    locked = replace(_confirmed(found, campaign, book, product, price, session.mode), terms=terms)
    earlier = session.lock.by_id(locked.payment_link)
    locked = replace(locked, sent=earlier.sent if earlier else False)
    if locked.active:
        return locked, action
    if earlier is not None and earlier.off in SUPERSEDED:  # its price and terms are the current ones again
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
        "allow_promotion_codes": settings.allow_promotion_codes,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "inactive_message": INACTIVE_MESSAGE[campaign.locale],
    }
    if book.format == "printed":  # an e-book is not shipped
        params["shipping_address_collection"] = {"allowed_countries": list(settings.shipping_countries)}
        if settings.shipping_options:
            params["shipping_options"] = [{"shipping_rate": rate} for rate in settings.shipping_options]
    if settings.automatic_tax:
        params["automatic_tax"] = {"enabled": True}
    if settings.invoice_creation:
        params["invoice_creation"] = {"enabled": True}
    if settings.thank_you_url:
        params["after_completion"] = {"type": "redirect", "redirect": {"url": settings.thank_you_url}}
    if settings.payment_method_types:
        params["payment_method_types"] = list(settings.payment_method_types)
    # Derived from what it creates: the campaign's link for the book at this Price, on these terms.
    key = f"newsletter-link-{session.mode}-{campaign.id}-{book.sku}-{metadata['price']}"
    if "terms" in metadata:
        key += f"-{metadata['terms']}"
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
