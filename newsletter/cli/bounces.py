"""Returned mail: `bounces import` reads bounces, complaints and mailed unsubscribes into statuses."""

from __future__ import annotations

from pathlib import Path

import click

from newsletter.cli.common import Context


@click.group()
def bounces() -> None:
    """Returned mail: bounces, spam complaints and mailed unsubscribes."""


@bounces.command("import")
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_obj
def bounces_import(obj: Context, paths: tuple[Path, ...]) -> None:
    """Mark the addresses in returned mail: a Maildir, an mbox, .eml files or webhook JSON files.

    Permanent failures (RFC 3464 reports and the formats of Exchange, Gmail, Yahoo, qmail, ...) make
    the subscriber bounced; transient ones (4.x.x) are counted and make them bounced at [bounces]
    soft_bounce_limit; spam complaints (ARF) make them complained; mail to the unsubscribe address
    makes them unsubscribed. A bounce or complaint counts only when it names a message of ours to
    that address (VERP token, Message-ID or unsubscribe token); others are listed as not ours. Only
    active subscribers change. Importing the same files again changes nothing. Amazon SES (SNS) and
    Postmark webhook JSON is read too.

    Exit code 0, also when some messages were not understood (they are listed); 2 when a PATH does
    not exist or is not mail (nothing is imported).
    """
    from newsletter.project.validation import printable as shown  # every value below is from outside
    from newsletter.review.counts import plural

    summary = obj.open().import_bounces(paths)
    click.echo(
        f"{plural(summary.read, 'message')} read: {summary.bounced} bounced, "
        f"{plural(summary.soft_counted, 'soft bounce')} counted, {summary.complained} complained, "
        f"{summary.unsubscribed} unsubscribed, {summary.already_suppressed} already suppressed, "
        f"{plural(len(summary.unknown), 'unknown address', 'unknown addresses')}, "
        f"{len(summary.not_ours)} not ours, {summary.already_imported} already imported, "
        f"{len(summary.ignored)} ignored, {len(summary.not_understood)} not understood"
    )
    for where, address in summary.not_ours:
        named = shown(address)
        click.echo(f"not ours: {shown(where)}: names no message of ours to {named}; nothing changed")
    for where, address in summary.unknown:
        click.echo(f"unknown: {shown(where)}: {shown(address)} is not a subscriber")
    for where, reason in summary.ignored:
        click.echo(f"ignored: {shown(where)}: {shown(reason)}")
    for where, reason in summary.not_understood:
        click.echo(f"not understood: {shown(where)}: {shown(reason)}")
    for where, confirmation in summary.confirmations:
        click.echo(
            f"to confirm: {shown(where)}: an SNS {shown(confirmation.kind)} for "
            f"{shown(confirmation.topic)}; open {shown(confirmation.url)} to confirm it"
        )
