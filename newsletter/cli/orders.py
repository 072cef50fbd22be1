"""The orders paid through the campaigns' links: `orders` (the shipping list) and `orders sync`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from newsletter.cli.common import Context, table
from newsletter.errors import display_path


@click.group(invoke_without_command=True)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only orders from this day on (YYYY-MM-DD).")
@click.option("--campaign", "campaign_id", help="Only the orders of this campaign.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text", show_default=True
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file (owner only)."
)
@click.pass_context
def orders(
    ctx: click.Context, since: datetime | None, campaign_id: str | None, fmt: str, out: Path | None
) -> None:
    """The orders paid through the campaigns' Payment Links, as Stripe reported them: for shipping.

    Stripe's webhooks (`serve`, [stripe] webhook_path) record each order the moment it is paid;
    `orders sync` fetches what came while the server was down. An order is attributed to the
    reader whose link it came through; a file written with --out is readable by its owner only
    (it holds names and addresses).
    """
    if ctx.invoked_subcommand is not None:
        return
    from newsletter.files import atomic_write
    from newsletter.payments.orders import SUMMARY_COLUMNS, order_rows, orders_csv

    obj: Context = ctx.obj
    project = obj.open()
    found = project.orders(since=None if since is None else since.strftime("%Y-%m-%d"), campaign=campaign_id)
    if fmt == "csv":
        text = orders_csv(found)
    elif fmt == "json":
        text = json.dumps(order_rows(found), ensure_ascii=False, indent=2) + "\n"
    else:
        rows = [[row[key] for key in SUMMARY_COLUMNS] for row in order_rows(found)]
        text = (table(list(SUMMARY_COLUMNS), rows) if rows else "no orders") + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    atomic_write(out, text, mode=0o600, what="orders")
    click.echo(f"wrote {len(found)} orders to {display_path(out, project.root)}")


@orders.command("sync")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="Fetch the Checkout Sessions completed from this day on (YYYY-MM-DD).",
)
@click.option("--live", is_flag=True, help="Accept a live key: this project sells for real.")
@click.pass_obj
def orders_sync(obj: Context, since: datetime, live: bool) -> None:
    """Fetch the completed Checkout Sessions of the project's Payment Links from Stripe, for the time
    the server was down: the same orders the webhook records, never twice."""
    synced = obj.open().sync_orders(since.replace(tzinfo=UTC), live=live)
    from newsletter.review.counts import plural

    click.echo(
        f"{plural(synced.sessions, 'completed session')} of {plural(synced.links, 'link')}, "
        f"{plural(synced.written, 'order')} written or brought up to date"
    )
