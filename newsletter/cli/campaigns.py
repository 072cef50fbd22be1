"""Commands on campaign files: `build` renders them, `new` starts one from a column, `check` lints them."""

from __future__ import annotations

import sys
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
from newsletter.vocabulary import LOCALES

if TYPE_CHECKING:
    pass


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
@click.pass_obj
def build(
    obj: Context, campaign_ids: tuple[str, ...], out: Path | None, strict: bool, sync_links: bool, live: bool
) -> None:
    """Render campaigns to build/<id>/email.html, email.txt and meta.json.

    Builds every campaign under campaigns/, or only the CAMPAIGN_IDs given. Every problem in every
    campaign is reported in one run; a campaign with a problem writes nothing.

    \b
    Examples:
      newsletter build
      newsletter build 2026-12-schrijven --out /tmp/preview
    """
    from newsletter.review.preview import checks_summary
    from newsletter.review.site import build_site

    project = obj.project()
    if sync_links:
        sync_and_print(project, campaign_ids, live)
    report = build_site(project, campaign_ids, out=out, strict=strict)
    for built in report.built:
        rendered = built.rendered
        warnings = len(rendered.warnings)
        status = "" if built.written else click.style("  not written (--strict)", fg="red")
        findings = report.findings.get(rendered.campaign.id)
        checked = "" if findings is None else f", {checks_summary(findings)}"
        click.echo(
            f"{rendered.campaign.id}  {rendered.campaign.subject!r}  {rendered.html_bytes / 1024:.1f} KB  "
            f"{warnings} warning{'s' if warnings != 1 else ''}{checked}{status}"
        )
        for warning in rendered.warnings:
            click.secho(f"  warning: {warning}", fg="yellow")
    if report.errors:
        print_errors(report.errors, project.root)
        click.echo(f"{len(report.errors)} problem(s); nothing written for the campaigns concerned.", err=True)
        sys.exit(EXIT_USER_ERROR)
    if report.refused:
        sys.exit(EXIT_WARNINGS)


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
    "--book", "books", multiple=True, metavar="SKU", help="A book to sell (books/SKU.yaml). Repeatable."
)
@click.option(
    "--locale", type=click.Choice(LOCALES), help="Language of the campaign. Default: from settings."
)
@click.pass_obj
def new(
    obj: Context, campaign_id: str, column_file: Path, books: tuple[str, ...], locale: str | None
) -> None:
    """Write campaigns/CAMPAIGN_ID.yaml from a column, ready to edit.

    \b
    Example:
      newsletter new 2027-01-lezen --column columns/lezen.md --book schrijven-is-schrappen
    """
    from newsletter.project.scaffold import new_campaign

    project = obj.project()
    path = new_campaign(project, campaign_id, column_file, books, locale)
    click.echo(f"wrote {path.relative_to(project.root)}; edit it, then run: newsletter build {campaign_id}")


@click.command()
@click.argument("campaign_ids", nargs=-1, metavar="[CAMPAIGN_ID]...")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
@click.pass_obj
def check(obj: Context, campaign_ids: tuple[str, ...], output: str, strict: bool) -> None:
    """Check campaigns before sending: size, images, links, unsubscribe, order links, subject and
    preheader, settings, accessibility and CSS support. Renders like build; writes nothing.

    Exit code 0 when no errors are found (with --strict: no warnings either), 1 when they are, 2 when
    a campaign cannot be loaded or rendered.

    \b
    Examples:
      newsletter check
      newsletter check 2026-12-schrijven --format json --strict
    """
    import json

    from newsletter.review.checks import check_project, to_json

    project = obj.project()
    checked, errors = check_project(project, campaign_ids)
    findings = [finding for campaign in checked for finding in campaign.findings]
    error_count = sum(1 for f in findings if f.severity == "error")
    warning_count = len(findings) - error_count
    if output == "json":
        click.echo(json.dumps(to_json(checked), indent=2, ensure_ascii=False))
    else:
        rows = [[f.campaign, f.severity, f.rule, f.where, f.message] for f in findings]
        if rows:
            click.echo(table(["campaign", "severity", "rule", "where", "message"], rows))
        click.echo(
            f"{len(checked)} campaign{'s' if len(checked) != 1 else ''} checked: "
            f"{error_count} error{'s' if error_count != 1 else ''}, "
            f"{warning_count} warning{'s' if warning_count != 1 else ''}"
        )
    if errors:
        print_errors(errors, project.root)
        sys.exit(EXIT_USER_ERROR)
    if error_count or (strict and warning_count):
        sys.exit(EXIT_WARNINGS)
