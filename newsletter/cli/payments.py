"""Stripe Payment Links (`links sync/list/deactivate/activate`) and what a campaign sold (`report`)."""

from __future__ import annotations

import sys
from dataclasses import asdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

from newsletter.cli.common import (
    EXIT_USER_ERROR,
    Context,
    print_errors,
    table,
)
from newsletter.errors import NewsletterErrors

if TYPE_CHECKING:
    from newsletter.api import CampaignReport, Newsletter
    from newsletter.payments.orders import RecordedOrders
    from newsletter.payments.sales import BookSales, PriceSales
    from newsletter.payments.stripe_links import SyncResult
    from newsletter.project.campaign import Campaign
    from newsletter.store import Funnel


@click.group()
def links() -> None:
    """Stripe Payment Links for the books in campaigns (key from STRIPE_API_KEY)."""


@links.command("sync")
@click.argument("campaign_ids", nargs=-1, metavar="[CAMPAIGN_ID]...")
@click.option("--live", is_flag=True, help="Accept a live key: this project sells for real.")
@click.pass_obj
def links_sync(obj: Context, campaign_ids: tuple[str, ...], live: bool) -> None:
    """Create the missing Product, Price and Payment Link of every book, and record them.

    Nothing is ever created twice: existing objects are found first, every create carries an
    idempotency key, and payments.lock.json remembers what Stripe confirmed. A deactivated campaign
    stays off (`links activate` switches it on), a campaign past its `ends:` date is switched off,
    and links that went out in an email stay on at their price when the price changes.
    """
    sync_and_print(obj.open(), campaign_ids, live)


def sync_and_print(project: Newsletter, campaign_ids: tuple[str, ...], live: bool) -> None:
    from newsletter.render.i18n import format_price

    try:
        campaigns, results = project.sync_links(campaign_ids, live=live)
    except NewsletterErrors as errors:
        print_errors(errors.errors, project.root)
        sys.exit(EXIT_USER_ERROR)
    rows = [
        [
            r.campaign,
            r.book.sku,
            format_price(r.book.price, "EUR", "nl"),
            r.link.url if r.link else "-",
            r.product,
            r.price,
            r.payment_link,
            ", ".join(r.deactivated) or "-",
            ", ".join(r.kept) or "-",
        ]
        for r in results
    ]
    headers = [
        "campaign",
        "book",
        "price",
        "link",
        "product",
        "price",
        "payment link",
        "deactivated",
        "kept (sent)",
    ]
    click.echo(table(headers, rows))
    for note in _sync_notes(results, {c.id: c for c in campaigns}):
        click.echo(note)
    for note in _fixed_price_notes(results):
        click.echo(note)


def _fixed_price_notes(results: list[SyncResult]) -> list[str]:
    """Each book sold at a fixed price (Wet op de vaste boekenprijs): when it may change and be lifted."""
    from newsletter.project import price_law

    today = price_law.today()
    books = {r.book.sku: r.book for r in results if r.link is not None}
    return [note for book in books.values() if (note := price_law.note(book, today))]


def _sync_notes(results: list[SyncResult], campaigns: dict[str, Campaign]) -> list[str]:
    """Why a campaign has no working Payment Link after a sync, and what switches it on."""
    notes: dict[str, str] = {}
    for r in results:
        if r.payment_link == "ended":
            ends = campaigns[r.campaign].ends
            notes[r.campaign] = (
                f"{r.campaign}: the promotion ended on {ends} (`ends:` in its campaign file), so its "
                "links are switched off; its order buttons go to the shop page"
            )
        elif r.payment_link == "inactive":
            notes[r.campaign] = (
                f"{r.campaign}: its links are switched off (`links deactivate`), so its order buttons go "
                f"to the shop page; `newsletter links activate {r.campaign}` switches them on again"
            )
        elif r.kept:
            notes.setdefault(
                r.campaign,
                f"{r.campaign}: was sent, so the links in its emails stay on at their price "
                "(until `ends:` or `links deactivate`)",
            )
    return list(notes.values())


@links.command("list")
@click.pass_obj
def links_list(obj: Context) -> None:
    """Every Payment Link in the lock file, with its mode and whether it is active."""
    lock = obj.open().links()
    rows = [
        [
            link.campaign,
            link.sku,
            f"{link.amount / 100:.2f}",
            link.mode,
            "active" if link.active else "inactive",
            link.url,
            ", ".join(filter(None, ["sent" if link.sent else "", OFF_NOTES.get(link.off or "", "")])),
        ]
        for link in lock.links
    ]
    headers = ["campaign", "book", "eur", "mode", "state", "link", "note"]
    click.echo(table(headers, rows) if rows else "no links yet")


OFF_NOTES = {
    "new-price": "new price",
    "new-terms": "new settings",
    "deactivated": "deactivated",
    "ended": "promotion ended",
}


@links.command("deactivate")
@click.argument("campaign_id")
@click.option("--live", is_flag=True, help="Accept a live key: this project sells for real.")
@click.pass_obj
def links_deactivate(obj: Context, campaign_id: str, live: bool) -> None:
    """Switch off a campaign's links when its promotion ends (buyers then see its inactive message).

    The campaign stays switched off, also through `links sync`, until `links activate`.
    """
    done = obj.open().deactivate_links(campaign_id, live=live)
    for link in done:
        click.echo(f"deactivated {link.sku}: {link.url}")
    if not done:
        click.echo(f"{campaign_id} has no active links")


@links.command("activate")
@click.argument("campaign_id")
@click.option("--live", is_flag=True, help="Accept a live key: this project sells for real.")
@click.pass_obj
def links_activate(obj: Context, campaign_id: str, live: bool) -> None:
    """Switch a deactivated campaign's links on again (the ones its emails carry)."""
    done = obj.open().activate_links(campaign_id, live=live)
    for link in done.activated:
        click.echo(f"activated {link.sku}: {link.url}")
    if not done.activated:
        click.echo(f"{campaign_id} has no switched-off links")
    for sku in done.missing:
        click.echo(f"{sku} has no link at its current price yet: run `newsletter links sync {campaign_id}`")


@click.command()
@click.argument("campaign_id")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--live", is_flag=True, help="Accept a live key: this project sells for real.")
@click.pass_obj
def report(obj: Context, campaign_id: str, output: str, live: bool) -> None:
    """What became of a campaign: recipients, delivered, deferred, failed, bounced, complained and
    unsubscribed, then what it sold through Stripe (completed checkouts, quantity and revenue per
    book and price) and the orders per 1,000 delivered.

    A bounce, complaint or unsubscribe counts for the campaign it names (a refusal during its send,
    its unsubscribe token), otherwise for the last campaign delivered to that reader before it.
    """
    import json

    project = obj.open()
    found = project.report(campaign_id, live=live)
    campaign, funnel, sales = found.campaign, found.funnel, found.sales
    orders, per_thousand = found.orders, found.orders_per_1000_delivered
    if output == "json":
        document = {
            "campaign": campaign_id,
            "funnel": _funnel_json(funnel),
            "books": [_sales_json(s) for s in sales],
            "orders": orders,
            "revenue": found.revenue,
            "orders_per_1000_delivered": per_thousand,
            "recorded": _recorded_json(found.recorded, funnel.delivered),
            "variants": [
                {**vars(arm.result), "revenue_per_1000": arm.revenue_per_1000, "chance_best": arm.chance}
                for arm in found.variants
            ],
            "winner": None if found.test is None else found.test.winner,
        }
        click.echo(json.dumps(document, indent=2))
        return
    from newsletter.render.i18n import format_number, format_price

    locale = campaign.locale  # every number as the campaign's readers write it: 1.000, € 69,90 (nl)
    counts = [format_number(value, locale) for value in _funnel_json(funnel).values()]
    if funnel.recipients:
        click.echo(table(["recipients", *FUNNEL_COLUMNS], [counts]))
    else:  # as `status` says it; Stripe may have sales all the same (a link shared elsewhere)
        click.echo(f"{campaign_id} has not been sent")
    click.echo()
    if sales:
        click.echo(_sales_table(sales, locale))
    elif not project.secrets.stripe_api_key and project.links().of_campaign(campaign_id):
        click.echo("Stripe's own totals: not fetched (STRIPE_API_KEY is not set)")
    else:
        click.echo("no orders: the campaign has no Stripe links")
    shown = "-" if per_thousand is None else format_number(per_thousand, locale)
    revenue = format_price(Decimal(found.revenue) / 100, "EUR", locale)
    click.echo(
        f"\norders: {format_number(orders, locale)}, revenue {revenue}, "
        f"{shown} per {format_number(1000, locale)} delivered"
    )
    if found.recorded is not None:
        click.echo("\n" + _recorded_text(found.recorded, funnel.delivered, locale))
    if campaign.variants:
        click.echo("\n" + _variants_text(found, locale))


def _variants_text(found: CampaignReport, locale: str) -> str:
    """An A/B test's arms side by side, and what the evidence allows one to say."""
    from newsletter.render.i18n import format_number, format_price
    from newsletter.sending.ab_test import THRESHOLD

    subjects = {arm.name: arm.subject for arm in found.campaign.variants}
    rows = [
        [
            arm.result.variant,
            subjects.get(arm.result.variant, ""),
            format_number(arm.result.delivered, locale),
            format_number(arm.result.orders, locale),
            format_number(arm.result.buyers, locale),
            "-"
            if arm.revenue_per_1000 is None
            else format_price(Decimal(arm.revenue_per_1000) / 100, "EUR", locale),
            f"{arm.chance:.0%}",
        ]
        for arm in found.variants
    ]
    lines = [
        "A/B test (the test share):",
        table(["variant", "subject", "delivered", "orders", "buyers", "revenue/1000", "chance best"], rows)
        if rows
        else "  nothing delivered yet",
    ]
    test = found.test
    if test is not None and test.winner:
        lines.append(f"winner: {test.winner} (sent to the rest)")
    elif found.variants:
        ranked = sorted(found.variants, key=lambda arm: arm.chance, reverse=True)
        best = ranked[0]
        verdict = "ahead enough for --winner auto" if best.chance >= THRESHOLD else "no winner yet"
        if best.chance - ranked[1].chance < 0.02:
            chance = "the variants are level"
        else:
            chance = f"{best.result.variant} leads with a {best.chance:.0%} chance of selling best"
        lines.append(f"{chance}: {verdict} (--winner auto needs {THRESHOLD:.0%})")
    return "\n".join(lines)


def _recorded_json(recorded: RecordedOrders | None, delivered: int) -> dict[str, object] | None:
    if recorded is None:
        return None
    return {
        "orders": recorded.orders,
        "buyers": recorded.buyers,
        "revenue": recorded.net,
        "refunded": recorded.refunded,
        "unattributed": recorded.unattributed,
        "orders_per_1000_delivered": recorded.per_1000(recorded.orders, delivered),
        "buyers_per_1000_delivered": recorded.per_1000(recorded.buyers, delivered),
        "revenue_per_1000_delivered": recorded.per_1000(recorded.net, delivered),
        "books": [vars(book) for book in recorded.books],
        "buyers_by_label": dict(recorded.by_label),
    }


def _recorded_text(recorded: RecordedOrders, delivered: int, locale: str) -> str:
    """The orders the webhooks and `orders sync` recorded, per reader: refunds subtracted."""
    from newsletter.render.i18n import format_number, format_price

    def euros(cents: float | None) -> str:
        return "-" if cents is None else format_price(Decimal(str(cents)) / 100, "EUR", locale)

    def number(value: float | None) -> str:
        return "-" if value is None else format_number(value, locale)

    thousand = format_number(1000, locale)
    lines = [
        f"recorded orders (webhooks, orders sync): {number(recorded.orders)} from "
        f"{number(recorded.buyers)} readers ({number(recorded.unattributed)} not attributed), revenue "
        f"{euros(recorded.net)} after {euros(recorded.refunded)} refunded",
        f"per {thousand} delivered: {number(recorded.per_1000(recorded.orders, delivered))} orders, "
        f"{number(recorded.per_1000(recorded.buyers, delivered))} buyers, "
        f"{euros(recorded.per_1000(recorded.net, delivered))}",
        table(
            ["book", "orders", "quantity", "revenue"],
            [[b.sku, number(b.orders), number(b.quantity), euros(b.net)] for b in recorded.books],
        ),
    ]
    if recorded.by_label:
        shown = ", ".join(f"{label} {number(count)}" for label, count in recorded.by_label)
        lines.append(f"buyers by locale, tag and topic: {shown}")
    return "\n".join(lines)


FUNNEL_COLUMNS = (
    "delivered",
    "deferred",
    "failed",
    "unknown",
    "pending",
    "bounced",
    "complained",
    "unsubscribed",
)


def _funnel_json(funnel: Funnel) -> dict[str, int]:
    counts = {**funnel.states, "delivered": funnel.delivered, **funnel.outcomes}
    counts["pending"] += counts.get("sending", 0)  # a send under way, as far as a report is concerned
    return {"recipients": funnel.recipients, **{name: counts[name] for name in FUNNEL_COLUMNS}}


def _sales_table(sales: list[BookSales], locale: str) -> str:
    from newsletter.render.i18n import format_price

    rows = []
    for book in sales:
        for price in book.prices:
            amount = format_price(Decimal(price.amount) / 100, "EUR", locale)
            rows.append([book.sku, book.mode, amount, *_figures(price, locale)])
        if len(book.prices) > 1:
            rows.append([book.sku, book.mode, "total", *_figures(book, locale)])
    return table(["book", "mode", "price", "checkouts", "quantity", "revenue"], rows)


def _figures(sold: BookSales | PriceSales, locale: str) -> list[str]:
    from newsletter.render.i18n import format_number, format_price

    revenue = format_price(Decimal(sold.revenue) / 100, "EUR", locale)
    return [format_number(sold.checkouts, locale), format_number(sold.quantity, locale), revenue]


def _sales_json(book: BookSales) -> dict[str, Any]:
    """A book's totals, and its sales per price it was offered at (with the links at that price)."""
    return {
        "sku": book.sku,
        "mode": book.mode,
        "currency": book.currency,
        "checkouts": book.checkouts,
        "quantity": book.quantity,
        "revenue": book.revenue,
        "prices": [asdict(price) for price in book.prices],
    }
