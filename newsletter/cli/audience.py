"""The subscribers: `audience import/list/count/suppress/export`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from newsletter.cli.common import (
    EXIT_WARNINGS,
    Context,
    print_errors,
    table,
)
from newsletter.errors import NewsletterError, display_path
from newsletter.vocabulary import LOCALES, STATUSES, SUPPRESSED

_STATUS_CHOICE = click.Choice([*STATUSES, "all"])


@click.group()
def audience() -> None:
    """The subscribers: import CSV lists, suppress addresses, list, count and export.

    They live in audience.sqlite3 in the project (settings: [audience] database), created on first use.
    """


@audience.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", help="Where these subscribers came from. Default: the file name.")
@click.pass_obj
def audience_import(obj: Context, file: Path, source: str | None) -> None:
    """Add the subscribers in a CSV file (UTF-8; delimiter , ; tab or |; a header row).

    Columns (any case): email / e-mail / e-mailadres (required), name / naam, locale / taal (nl or en,
    default from settings), tags / labels, status. Duplicates are merged; an unsubscribed, bounced or
    complained address is never made active again.

    Exit code 0 when every row was imported, 1 when some rows were bad (the good ones are imported,
    each bad one is reported with its line), 2 when the file cannot be read (nothing is imported).
    """
    project = obj.open()
    report = project.import_subscribers(file, source=source)
    click.echo(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.kept_suppressed} kept suppressed, {len(report.bad)} bad"
        + (f" ({report.duplicates} duplicate rows merged)" if report.duplicates else "")
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
