"""Stripe Payment Links (`links sync/list/deactivate`) and what a campaign sold (`report`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from newsletter.cli.common import (
    EXIT_USER_ERROR,
    Context,
    print_errors,
    table,
)

if TYPE_CHECKING:
    from newsletter.project.campaign import Campaign
    from newsletter.project.settings import Project


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
    idempotency key, and payments.lock.json remembers what Stripe confirmed.
    """
    sync_and_print(obj.project(), campaign_ids, live)


def sync_and_print(project: Project, campaign_ids: tuple[str, ...], live: bool) -> None:
    from newsletter.payments.stripe_links import sync_campaigns
    from newsletter.project.campaign import load_campaigns
    from newsletter.render.i18n import format_price

    campaigns, errors = load_campaigns(project, campaign_ids)
    if errors:
        print_errors(errors, project.root)
        sys.exit(EXIT_USER_ERROR)
    rows = [
        [
            r.link.campaign,
            r.book.sku,
            format_price(r.book.price, "EUR", "nl"),
            r.link.url,
            r.product,
            r.price,
            r.payment_link,
            ", ".join(r.deactivated) or "-",
        ]
        for r in sync_campaigns(project, campaigns, live=live)
    ]
    headers = ["campaign", "book", "price", "link", "product", "price", "payment link", "deactivated"]
    click.echo(table(headers, rows))


@links.command("list")
@click.pass_obj
def links_list(obj: Context) -> None:
    """Every Payment Link in the lock file, with its mode and whether it is active."""
    from newsletter.payments.lock import load_lock

    lock = load_lock(obj.project())
    rows = [
        [
            link.campaign,
            link.sku,
            f"{link.amount / 100:.2f}",
            link.mode,
            "active" if link.active else "inactive",
            link.url,
        ]
        for link in lock.links
    ]
    click.echo(table(["campaign", "book", "eur", "mode", "state", "link"], rows) if rows else "no links yet")


@links.command("deactivate")
@click.argument("campaign_id")
@click.option("--live", is_flag=True, help="Accept a live key: this project sells for real.")
@click.pass_obj
def links_deactivate(obj: Context, campaign_id: str, live: bool) -> None:
    """Switch off a campaign's links when its promotion ends (buyers then see its inactive message)."""
    from newsletter.payments.stripe_links import deactivate_campaign

    project = obj.project()
    done = deactivate_campaign(project, _one_campaign(project, campaign_id), live=live)
    for link in done:
        click.echo(f"deactivated {link.sku}: {link.url}")
    if not done:
        click.echo(f"{campaign_id} has no active links")


@click.command()
@click.argument("campaign_id")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--live", is_flag=True, help="Accept a live key: this project sells for real.")
@click.pass_obj
def report(obj: Context, campaign_id: str, output: str, live: bool) -> None:
    """What a campaign sold: completed checkouts, quantity and revenue per book."""
    import json
    from dataclasses import asdict

    from newsletter.payments.stripe_links import sales_report

    project = obj.project()
    sales = sales_report(project, _one_campaign(project, campaign_id), live=live)
    if output == "json":
        click.echo(json.dumps({"campaign": campaign_id, "books": [asdict(s) for s in sales]}, indent=2))
        return
    rows = [[s.sku, s.mode, str(s.checkouts), str(s.quantity), f"{s.revenue / 100:.2f}"] for s in sales]
    click.echo(
        table(["book", "mode", "checkouts", "quantity", "revenue (EUR)"], rows) if rows else "no links yet"
    )


def _one_campaign(project: Project, campaign_id: str) -> Campaign:
    from newsletter.pipeline import load_one

    return load_one(project, campaign_id)
