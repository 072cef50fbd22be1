"""The subscribers: `audience import/list/count/suppress/export/show/forget/copy`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from newsletter.cli.common import (
    EXIT_WARNINGS,
    Context,
    print_errors,
    table,
)
from newsletter.errors import NewsletterError, display_path, password_of
from newsletter.store import ConsentMissing, PostgresDatabase
from newsletter.vocabulary import LOCALES, STATUSES, SUPPRESSED

_STATUS_CHOICE = click.Choice([*STATUSES, "all"])


@click.group()
def audience() -> None:
    """The subscribers: import CSV lists, suppress addresses, list, count, export, show and forget,
    and copy the whole store into PostgreSQL.

    They live in audience.sqlite3 in the project, or in a PostgreSQL database (settings: [audience]
    database, or NEWSLETTER_DATABASE_URL), created on first use.
    """


@audience.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", help="Where these subscribers came from. Default: the file name.")
@click.option(
    "--consent",
    help="What the readers this file adds agreed to, and where and when: kept as their proof of "
    "consent. Required when the file adds anyone.",
)
@click.pass_obj
def audience_import(obj: Context, file: Path, source: str | None, consent: str | None) -> None:
    """Add the subscribers in a CSV file (UTF-8; delimiter , ; tab or |; a header row).

    Columns (any case): email / e-mail / e-mailadres (required), name / naam, locale / taal (nl or en,
    default from settings), tags / labels, status. Duplicates are merged; an unsubscribed, bounced,
    complained or forgotten address is never made active again.

    Exit code 0 when every row was imported, 1 when some rows were bad (the good ones are imported,
    each bad one is reported with its line), 2 when the file cannot be read or adds subscribers
    without --consent (nothing is imported).
    """
    project = obj.open()
    if consent is not None and not consent.strip():
        raise click.BadParameter("say what the readers agreed to", param_hint="--consent")
    try:
        report = project.import_subscribers(file, source=source, consent=consent)
    except ConsentMissing as missing:
        raise click.UsageError(f"{missing.message}; {missing.hint}") from None
    click.echo(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.kept_suppressed} kept suppressed, {len(report.bad)} bad"
        + (f" ({report.duplicates} duplicate rows merged)" if report.duplicates else "")
    )
    if report.kept_unconfirmed:
        click.echo(
            f"{report.kept_unconfirmed} left waiting for their own confirmation (signed up, not confirmed)"
        )
    if report.unused_columns:
        click.echo("columns not used: " + ", ".join(report.unused_columns))
    if report.bad:
        print_errors(
            [NewsletterError(bad.reason, path=file, line=bad.line) for bad in report.bad], project.root
        )
        sys.exit(EXIT_WARNINGS)


@audience.command("list")
@click.option("--status", type=_STATUS_CHOICE, default="active", show_default=True)
@click.option("--locale", type=click.Choice(LOCALES))
@click.option(
    "--tag", "tags", multiple=True, help="Only subscribers with this tag. Repeatable: all must match."
)
@click.option(
    "--history",
    is_flag=True,
    help="Every change of status of these subscribers instead: when, from what, to what, by what.",
)
@click.pass_obj
def audience_list(
    obj: Context, status: str, locale: str | None, tags: tuple[str, ...], history: bool
) -> None:
    """The subscribers, by id, with when their status was set and by what (import, suppress,
    one-click, bounce, complaint, mailto, webhook:<service>)."""
    with obj.open().audience() as store:
        found = store.select(status=None if status == "all" else status, locale=locale, tags=tags)
        if history:
            changes = store.history([s.id for s in found])
        else:
            last = store.last_changes()
    if not found:
        click.echo("no subscribers")
    elif history:
        rows = [
            [str(c.subscriber_id), c.email, c.at, c.old_status or "-", c.new_status, c.source, c.detail]
            for c in changes
        ]
        click.echo(table(["id", "email", "at", "from", "to", "source", "detail"], rows))
    else:
        rows = []
        for s in found:
            change = last.get(s.id)
            since, by = (change.at, change.source) if change else ("-", "-")
            rows.append([str(s.id), s.email, s.name, s.locale, " ".join(s.tags), s.status, since, by])
        click.echo(table(["id", "email", "name", "locale", "tags", "status", "since", "by"], rows))


@audience.command("count")
@click.pass_obj
def audience_count(obj: Context) -> None:
    """How many subscribers per status and locale."""
    with obj.open().audience() as store:
        counts = store.count()
    rows = []
    for status in [*STATUSES, "total"]:
        statuses = STATUSES if status == "total" else (status,)
        per_locale = [sum(counts.get((s, locale), 0) for s in statuses) for locale in LOCALES]
        rows.append([status, *map(str, per_locale), str(sum(per_locale))])
    click.echo(table(["status", *LOCALES, "total"], rows))


@audience.command("suppress")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--status",
    type=click.Choice(SUPPRESSED),
    default="unsubscribed",
    show_default=True,
)
@click.pass_obj
def audience_suppress(obj: Context, file: Path, status: str) -> None:
    """Never mail these addresses again: one per line, or a CSV with an email column.

    Unknown addresses are added as suppressed, so a later import cannot make them active. Exit code 1
    when some lines were not addresses (the others are suppressed), 2 when the file cannot be read.
    """
    project = obj.open()
    report = project.suppress(file, status=status)
    click.echo(
        f"{report.suppressed} {status}, {report.added} added as {status}, {report.unchanged} unchanged, "
        f"{len(report.bad)} bad"
    )
    if report.bad:
        print_errors(
            [NewsletterError(bad.reason, path=file, line=bad.line) for bad in report.bad], project.root
        )
        sys.exit(EXIT_WARNINGS)


@audience.command("export")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
@click.option("--status", type=_STATUS_CHOICE, default="all", show_default=True)
@click.option("--locale", type=click.Choice(LOCALES))
@click.option("--tag", "tags", multiple=True, help="Only subscribers with this tag. Repeatable.")
@click.pass_obj
def audience_export(
    obj: Context, out: Path | None, status: str, locale: str | None, tags: tuple[str, ...]
) -> None:
    """Write the subscribers as UTF-8 CSV, which `audience import` reads back."""
    project = obj.open()
    written = project.export_subscribers(
        out, status=None if status == "all" else status, locale=locale, tags=tags
    )
    if out is not None:
        click.echo(f"wrote {written} subscribers to {display_path(out, project.root)}")


@audience.command("show")
@click.argument("address")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
def audience_show(obj: Context, address: str, fmt: str) -> None:
    """Everything stored about one reader: fields, consents, status history, messages sent, soft
    bounces (the right of access)."""
    found = obj.open().person(address)
    if fmt == "json":
        click.echo(json.dumps(found.as_json(), ensure_ascii=False, indent=2))
        return
    s = found.subscriber
    rows = [
        ["email", s.email],
        ["name", s.name or "-"],
        ["locale", s.locale],
        ["status", s.status],
        ["tags", " ".join(s.tags) or "-"],
        ["topics", " ".join(s.topics) or "-"],
        ["source", s.source or "-"],
        ["created", s.created_at],
        ["updated", s.updated_at],
    ]
    click.echo(table(["field", "value"], rows))
    click.echo("\nconsents:")
    for c in found.consents or []:
        confirmed = f"confirmed {c.confirmed_at}" if c.confirmed_at else "not confirmed"
        mail = f", confirmation mail {c.confirmation_message_id}" if c.confirmation_message_id else ""
        click.echo(f"  {c.given_at} via {c.source} (text version {c.version}), {confirmed}{mail}")
        click.echo(f"    text: {c.text}")
        if c.topics:
            click.echo(f"    topics: {' '.join(c.topics)}")
        if c.ip:
            click.echo(f"    ip: {c.ip}")
    if not found.consents:
        click.echo("  none recorded (added before consent was kept, or by `audience suppress`)")
    click.echo("\nhistory:")
    for h in found.history:
        detail = f": {h.detail}" if h.detail else ""
        click.echo(f"  {h.at} {h.old_status or '-'} -> {h.new_status} ({h.source}{detail})")
    click.echo("\nmessages:")
    for m in found.messages:
        click.echo(f"  {m.campaign}: {m.state}{' ' + m.sent_at if m.sent_at else ''}")
    if not found.messages:
        click.echo("  none")
    if found.soft_bounces:
        click.echo("\nsoft bounces:")
        for at, detail in found.soft_bounces:
            click.echo(f"  {at} {detail}")
    if found.orders:
        click.echo("\norders:")
        for order in found.orders:
            paid = f"{order.amount / 100:.2f} {order.currency.upper()}"
            click.echo(
                f"  {order.created_at} {order.sku or '-'} x{order.quantity} {paid} {order.payment_status}"
            )


@audience.command("forget")
@click.argument("address")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def audience_forget(obj: Context, address: str, yes: bool) -> None:
    """Erase a reader's personal data (the right to erasure), keeping only a keyed hash of the
    address (made with NEWSLETTER_UNSUBSCRIBE_SECRET), so that a later import of it is refused.

    Only a new sign-up, confirmed by the reader, brings the address back. The send log keeps its
    rows without the address, so campaign figures stay true.
    """
    project = obj.open()
    if not yes:
        click.confirm(f"Erase everything stored about {address}?", abort=True)
    found = project.forget(address)
    click.echo(f"forgot subscriber {found.id}: only a keyed hash of the address is left")


@audience.command("copy")
@click.option(
    "--to",
    "to",
    required=True,
    metavar="URL|FILE",
    help="A new, empty PostgreSQL database (postgresql://USER@HOST/DB; its tables are made on first "
    "use), or a new SQLite file.",
)
@click.pass_obj
def audience_copy(obj: Context, to: str) -> None:
    """Copy the whole subscriber store (every table, ids included) into a new, empty database: how a
    project moves its SQLite file to PostgreSQL.

    One transaction, the rows counted on both sides: a target that already holds rows is refused,
    and a copy that fails halfway leaves it empty (exit code 2 for both). The project's setting is
    left alone: point [audience] database at the copy once it is made. A password in the URL is
    never shown.
    """
    project = obj.open()
    copied = project.copy_audience(to, on_table=lambda table, rows: click.echo(f"{table}: {_rows(rows)}"))
    click.echo(
        f"copied the subscriber store to {copied.target} ({len(copied.tables)} tables, "
        f"{_rows(copied.rows)}); point [audience] database at it"
    )
    if isinstance(copied.target, PostgresDatabase) and password_of(copied.target.url):
        click.echo(
            "leave the password out of newsletter.toml: PGPASSWORD or ~/.pgpass hold it, or "
            "NEWSLETTER_DATABASE_URL holds the whole URL"
        )


def _rows(number: int) -> str:
    return f"{number:,} row" + ("" if number == 1 else "s")
