"""The `newsletter` command: parses options, calls the library, reports. No pipeline logic lives here.

User errors (`NewsletterError`) become one paragraph each on stderr and exit code 2; anything else
is a bug and shows its traceback. Heavy modules are imported inside the commands so that
`newsletter --help` stays instant.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from newsletter.errors import NewsletterError, flatten

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 2
EXIT_WARNINGS = 1


class Context:
    """What the group passes to its commands: where the project is, found lazily."""

    def __init__(self, project_dir: Path | None) -> None:
        self.project_dir = project_dir
        self.root: Path | None = None

    def project(self) -> Any:
        from newsletter.settings import find_project_root, open_project

        self.root = find_project_root(self.project_dir or Path.cwd())
        return open_project(self.root)


def reports_errors(command: F) -> F:
    """Turn user errors into messages and exit code 2, without a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NewsletterError as error:
            ctx = click.get_current_context().find_object(Context)
            print_errors([error], ctx.root if ctx else None)
            sys.exit(EXIT_USER_ERROR)

    return wrapper  # type: ignore[return-value]


def print_errors(errors: Iterable[NewsletterError], root: Path | None) -> None:
    for error in flatten(errors):
        click.secho("error: ", fg="red", bold=True, err=True, nl=False)
        click.echo(error.format(root), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The project folder (holding newsletter.toml). Default: the current folder or the nearest above it.",
)
@click.version_option(package_name="newsletter")
@click.pass_context
def main(ctx: click.Context, project_dir: Path | None) -> None:
    """Turn campaign files into responsive, CSS-inlined newsletters."""
    ctx.obj = Context(project_dir)


@main.command()
@click.argument("campaign_ids", nargs=-1, metavar="[CAMPAIGN_ID]...")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder. Default: build/"
)
@click.option(
    "--strict", is_flag=True, help="Treat warnings as errors: a campaign with warnings is not written."
)
@click.pass_obj
@reports_errors
def build(obj: Context, campaign_ids: tuple[str, ...], out: Path | None, strict: bool) -> None:
    """Render campaigns to build/<id>/email.html, email.txt and meta.json.

    Builds every campaign under campaigns/, or only the CAMPAIGN_IDs given. Every problem in every
    campaign is reported in one run; a campaign with a problem writes nothing.

    \b
    Examples:
      newsletter build
      newsletter build 2026-12-schrijven --out /tmp/preview
    """
    from newsletter.build import build as build_campaigns

    project = obj.project()
    report = build_campaigns(project, campaign_ids, out=out, strict=strict)
    for built in report.built:
        rendered = built.rendered
        warnings = len(rendered.warnings)
        status = "" if built.written else click.style("  not written (--strict)", fg="red")
        click.echo(
            f"{rendered.campaign.id}  {rendered.campaign.subject!r}  {rendered.html_bytes / 1024:.1f} KB  "
            f"{warnings} warning{'s' if warnings != 1 else ''}{status}"
        )
        for warning in rendered.warnings:
            click.secho(f"  warning: {warning}", fg="yellow")
    if report.errors:
        print_errors(report.errors, project.root)
        click.echo(f"{len(report.errors)} problem(s); nothing written for the campaigns concerned.", err=True)
        sys.exit(EXIT_USER_ERROR)
    if report.refused:
        sys.exit(EXIT_WARNINGS)


@main.command()
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
    "--locale", type=click.Choice(["nl", "en"]), help="Language of the campaign. Default: from settings."
)
@click.pass_obj
@reports_errors
def new(
    obj: Context, campaign_id: str, column_file: Path, books: tuple[str, ...], locale: str | None
) -> None:
    """Write campaigns/CAMPAIGN_ID.yaml from a column, ready to edit.

    \b
    Example:
      newsletter new 2027-01-lezen --column columns/lezen.md --book schrijven-is-schrappen
    """
    from newsletter.scaffold import new_campaign

    project = obj.project()
    path = new_campaign(project, campaign_id, column_file, books, locale)
    click.echo(f"wrote {path.relative_to(project.root)}; edit it, then run: newsletter build {campaign_id}")
