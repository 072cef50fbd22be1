"""Switching a campaign's Payment Links off and on again: `links deactivate`, `links activate`, and a
promotion's `ends:` date (applied by `links sync`).

A switched-off campaign stays off: a sync records what it finds and never switches a link back on
by itself, so an email built after `links deactivate` has no Payment Link (the book falls back to
its shop page, which the order policy reports), and only `links activate` undoes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from typing import TYPE_CHECKING

from newsletter.errors import NewsletterError
from newsletter.payments.lock import CAMPAIGN_OFF, LockedLink, Off, cents, link_terms
from newsletter.payments.stripe_api import StripeSession
from newsletter.project.campaign import Book, Campaign
from newsletter.project.settings import Project

if TYPE_CHECKING:
    from stripe import StripeClient

INACTIVE_MESSAGE = {
    "nl": "Deze aanbieding is afgelopen. Kijk in onze webwinkel voor de actuele prijs.",
    "en": "This offer has ended. Please visit our web shop for the current price.",
}


def promotion_ended(campaign: Campaign, today: date) -> bool:
    """`ends:` is the promotion's last day: it ends when that day is over."""
    return campaign.ends is not None and today > campaign.ends


def book_of(campaign: Campaign, sku: str) -> Book | None:
    return next((book for book in campaign.books if book.sku == sku), None)


def switch_off(client: StripeClient, payment_link: str, campaign: Campaign) -> None:
    client.v1.payment_links.update(
        payment_link, params={"active": False, "inactive_message": INACTIVE_MESSAGE[campaign.locale]}
    )


def switch_off_campaign(session: StripeSession, campaign: Campaign, reason: Off) -> list[LockedLink]:
    """Every active link of the campaign off (buyers see its inactive message), sent ones too."""
    done = []
    for link in session.lock.of_campaign(campaign.id, session.mode):
        if link.active:
            book = book_of(campaign, link.sku)
            session.call(book, partial(switch_off, payment_link=link.payment_link, campaign=campaign))
            done.append(replace(link, active=False, off=reason))
            session.record(done[-1])
    retire_prices(session, campaign, done)
    return done


def retire_prices(session: StripeSession, campaign: Campaign, switched_off: list[LockedLink]) -> None:
    """Archive the superseded Prices that no sent email sells at any more.

    A price change archives the old Price at once, unless a link that went out in an email still
    sells at it (an archived Price cannot be bought); such a Price is archived here, once the last of
    those links is switched off. The book's current Price (the one holding its lookup key) stays.
    """
    prices = {link.price: book_of(campaign, link.sku) for link in switched_off}
    for price, book in sorted(prices.items(), key=lambda item: item[0]):
        if not session.lock.sells_at(price):
            session.call(book, partial(_archive_if_superseded, price=price))


def _archive_if_superseded(client: StripeClient, price: str) -> None:
    current = client.v1.prices.retrieve(price)
    if current.active and current.lookup_key is None:
        client.v1.prices.update(price, params={"active": False})


def deactivate_campaign(project: Project, campaign: Campaign, *, live: bool = False) -> list[LockedLink]:
    """Switch off a campaign's links when its promotion ends; Stripe then shows the inactive message."""
    session = StripeSession(project, live=live)
    return switch_off_campaign(session, campaign, "deactivated")


@dataclass(frozen=True)
class Activation:
    activated: list[LockedLink] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # books without a link at their current price


def activate_campaign(
    project: Project, campaign: Campaign, *, live: bool = False, today: date | None = None
) -> Activation:
    """Switch a deactivated campaign's links on again: the ones its emails carry (those that went out,
    and the current price's). Links at an old price that never went out stay off."""
    session = StripeSession(project, live=live)
    if promotion_ended(campaign, today or date.today()):
        raise NewsletterError(
            f"the promotion of {campaign.id} ended on {campaign.ends}, so a sync would switch its links "
            "off again",
            path=campaign.path,
            field="ends",
            hint="move `ends:` to a later date (or remove it), then run `newsletter links activate` again",
        )
    current = {book.sku: (cents(book.price), link_terms(session.settings, book)) for book in campaign.books}
    activated: list[LockedLink] = []
    for link in session.lock.of_campaign(campaign.id, session.mode):
        if link.active or link.off not in CAMPAIGN_OFF:
            continue
        if not (link.sent or current.get(link.sku) == (link.amount, link.terms)):
            amount = current.get(link.sku, (None, ""))[0]  # superseded: no email carries it
            session.record(replace(link, off="new-price" if amount != link.amount else "new-terms"))
            continue
        if session.call(book_of(campaign, link.sku), partial(_switch_on, link=link)):
            activated.append(replace(link, active=True, off=None))
            session.record(activated[-1])
    missing = [
        sku
        for sku, (amount, terms) in current.items()
        if session.lock.find(campaign.id, sku, amount, session.mode, terms) is None
    ]
    return Activation(activated, missing)


def _switch_on(client: StripeClient, link: LockedLink) -> bool:
    """The link on again, and its Price with it: a link sells only at an active Price, and one that
    no sent email sold at any more was archived when the link was switched off."""
    if not client.v1.prices.retrieve(link.price).active:
        client.v1.prices.update(link.price, params={"active": True})
    answer = client.v1.payment_links.update(link.payment_link, params={"active": True})
    return bool(answer.active)
