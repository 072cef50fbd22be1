"""Commands on campaign files: `build` renders them, `new` starts one from a column, `check` lints them."""

from __future__ import annotations

import atexit
import gc
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli.common import (
    EXIT_USER_ERROR,
    EXIT_WARNINGS,
    Context,
    print_errors,
    table,
)
from newsletter.cli.payments import sync_and_print
from newsletter.errors import NewsletterError, flatten
from newsletter.review.counts import count_findings, findings_summary, plural
from newsletter.vocabulary import LOCALES

if TYPE_CHECKING:
    from newsletter.build import BuildReport


@click.command()
@click.argument("campaign_ids", nargs=-1, metavar="[CAMPAIGN_ID]...")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder. Default: build/"
)
@click.option(
    "--strict", is_flag=True, help="Treat warnings as errors: a campaign with warnings is not written."
)
@click.option(
    "--sync-links", is_flag=True, help="First create the missing Stripe Payment Links (links sync)."
)
@click.option("--live", is_flag=True, help="With --sync-links: accept a live Stripe key.")
@click.option(
    "--force", is_flag=True, help="Render every campaign, also those unchanged since the last build."
)
@click.pass_obj
def build(
    obj: Context,
    campaign_ids: tuple[str, ...],
    out: Path | None,
    strict: bool,
    sync_links: bool,
    live: bool,
    force: bool,
) -> None:
    """Render campaigns to build/<id>/email.html, email.txt and meta.json.

    Builds every campaign under campaigns/, or only the CAMPAIGN_IDs given. Every problem in every
    campaign is reported in one run; a campaign with a problem writes nothing. A campaign whose files
    did not change since its last build is left as it is (--force renders it anyway).

    Then writes the static site to build/site/ (or DIR/site/): the web version of every published
    campaign (sent to a reader, or `publish: true`), and an archive and Atom feed per locale.

    \b
    Examples:
      newsletter build
      newsletter build 2026-12-schrijven --out /tmp/preview
    """
    from newsletter.build import unchanged_build
    from newsletter.pipeline import Stored, find_root

    _short_lived_process()
    # An unchanged project is answered from what the last build stored, before opening the project.
    report = None
    if not (force or sync_links):
        report = unchanged_build(obj.start(), campaign_ids, out=out, strict=strict)
    if report is None:
        from newsletter.review.counts import checks_summary

        project = obj.open()
        if sync_links:
            sync_and_print(project, campaign_ids, live)
        report = project.build(campaign_ids, out=out, strict=strict, force=force)
        checked = {key: f", {checks_summary(found)}" for key, found in report.findings.items()}
    else:
        checked = {}
    for entry in report.entries():
        if isinstance(entry, Stored):
            line = (entry.id, entry.subject, entry.html_bytes, entry.warnings, f", {entry.checks}", True)
        else:
            rendered = entry.rendered
            campaign = rendered.campaign
            line = (
                campaign.id,
                campaign.subject,
                rendered.html_bytes,
                rendered.warnings,
                checked.get(campaign.id, ""),
                entry.written,
            )
        _print_built(*line)
    if report.errors:
        print_errors(report.errors, obj.root)
        click.echo("site: not updated (it shows every published campaign: fix the problems first)", err=True)
        click.echo(f"{len(report.errors)} problem(s); nothing written for the campaigns concerned.", err=True)
        sys.exit(EXIT_USER_ERROR)
    _print_site(report, obj.root or find_root(obj.start()) or obj.start())
    if report.refused:
        sys.exit(EXIT_WARNINGS)


def _print_site(report: BuildReport, root: Path) -> None:
    from newsletter.errors import display_path

    site = report.site
    if site is None:
        count = plural(report.site_problems, "problem")
        click.secho(f"site: not updated: {count} in other campaigns (run newsletter build)", fg="yellow")
        return
    for campaign_id in site.unbuilt:
        click.secho(
            f"  warning: {campaign_id} is published but has no built email to show: "
            f"run newsletter build {campaign_id}",
            fg="yellow",
        )
    click.echo(
        f"site: {plural(site.web_versions, 'web version')}, {plural(site.archives, 'archive')}, "
        f"{plural(site.archives, 'feed')} in {display_path(site.folder, root)}/"
    )


def _short_lived_process() -> None:
    """The process ends with this command, so the garbage collector need not work for the long run.

    Imports make a few hundred thousand objects that live as long as the process: with the default
    threshold (a pass every 700 new objects) the collector keeps re-scanning them, and at exit the
    interpreter's teardown passes over all of them again; together a fifth of a one-campaign build.
    A pass every 100,000 new objects still bounds the garbage of a build of many campaigns, and the
    objects alive at exit are left to the operating system (atexit runs first, files are closed).
    """
    gc.set_threshold(100_000)
    atexit.unregister(gc.freeze)  # registered once, however often the command runs in one process
    atexit.register(gc.freeze)


def _print_built(
    campaign_id: str, subject: str, html_bytes: int, warnings: Sequence[str], checked: str, written: bool
) -> None:
    status = "" if written else click.style("  not written (--strict)", fg="red")
    click.echo(
        f"{campaign_id}  {subject!r}  {html_bytes / 1024:.1f} KB  "
        f"{plural(len(warnings), 'warning')}{checked}{status}"
    )
    for warning in warnings:
        click.secho(f"  warning: {warning}", fg="yellow")


@click.command()
@click.argument("campaign_id")
@click.option(
    "--column",
    "column_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The column to tease: a file under columns/ (Markdown or plain text).",
)
@click.option(
    "--book",
    "books",
    multiple=True,
    metavar="SKU",
    help="A book to sell (books/SKU.yaml). Repeatable. Default: the book the column promotes.",
)
@click.option(
    "--locale", type=click.Choice(LOCALES), help="Language of the campaign. Default: from settings."
)
@click.pass_obj
def new(
    obj: Context, campaign_id: str, column_file: Path, books: tuple[str, ...], locale: str | None
) -> None:
    """Write campaigns/CAMPAIGN_ID.yaml from a column, ready to edit.

    Page chrome above the column's title (site name, menu, link questions) is dropped with a
    warning. Without --book, the book the column promotes at its end ("Boek <title> met
    <co-authors>") is looked up in books/, or started there as books/<sku>.yaml with TODOs.

    \b
    Example:
      newsletter new 2027-01-lezen --column columns/lezen.md --book schrijven-is-schrappen
    """
    project = obj.open()
    made = project.new_campaign(campaign_id, column_file, books, locale=locale)
    for warning in made.warnings:
        click.secho(f"warning: {warning}", fg="yellow")
    for note in made.notes:
        click.echo(note)
    path = made.path.relative_to(project.root)
    click.echo(f"wrote {path}; edit it, then run: newsletter build {campaign_id}")


@click.command()
@click.argument("campaign_ids", nargs=-1, metavar="[CAMPAIGN_ID]...")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
@click.pass_obj
def check(obj: Context, campaign_ids: tuple[str, ...], output: str, strict: bool) -> None:
    """Check campaigns before sending: size, images, links, unsubscribe, order links, subject and
    preheader, settings, accessibility, CSS support and the fixed book price law. Renders like build;
    writes nothing.

    Exit code 0 when no errors are found (with --strict: no warnings either), 1 when they are, 2 when
    a campaign cannot be loaded or rendered.

    \b
    Examples:
      newsletter check
      newsletter check 2026-12-schrijven --format json --strict
    """
    import json

    from newsletter.review.checks import to_json

    try:
        project = obj.open()
        checked, errors = project.check(campaign_ids)
    except NewsletterError as error:  # the project itself (settings, lock): still a JSON document
        if output != "json":
            raise
        document = {**to_json([]), "errors": [e.to_json(obj.root) for e in flatten([error])]}
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        print_errors([error], obj.root)
        sys.exit(EXIT_USER_ERROR)
    findings = [finding for campaign in checked for finding in campaign.findings]
    error_count, warning_count = count_findings(findings)
    if output == "json":  # problems that stopped a campaign belong in the document too
        document = {**to_json(checked), "errors": [e.to_json(project.root) for e in flatten(errors)]}
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        rows = [[f.campaign, f.severity, f.rule, f.where, f.message] for f in findings]
        if rows:
            click.echo(table(["campaign", "severity", "rule", "where", "message"], rows))
        click.echo(
            f"{plural(len(checked), 'campaign')} checked: {findings_summary(error_count, warning_count)}"
        )
    if errors:
        print_errors(errors, project.root)
        sys.exit(EXIT_USER_ERROR)
    if error_count or (strict and warning_count):
        sys.exit(EXIT_WARNINGS)
