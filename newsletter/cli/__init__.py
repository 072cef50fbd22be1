"""The `newsletter` command: parses options, calls the library, reports. No pipeline logic lives here.

User errors (`NewsletterError`) become one paragraph each on stderr and exit code 2; anything else
is a bug and shows its traceback. Heavy modules are imported inside the commands so that
`newsletter --help` stays instant.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from newsletter.errors import NewsletterError, display_path, flatten
from newsletter.vocabulary import LOCALES, SEND_STATES, STATUSES, SUPPRESSED

if TYPE_CHECKING:
    from newsletter.project.campaign import Campaign
    from newsletter.project.settings import Project

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 2
EXIT_WARNINGS = 1


class Context:
    """What the group passes to its commands: where the project is, found lazily."""

    def __init__(self, project_dir: Path | None) -> None:
        self.project_dir = project_dir
        self.root: Path | None = None

    def project(self) -> Project:
        from newsletter.project.settings import find_project_root, open_project

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
@click.option(
    "--sync-links", is_flag=True, help="First create the missing Stripe Payment Links (links sync)."
)
@click.option("--live", is_flag=True, help="With --sync-links: accept a live Stripe key.")
@click.pass_obj
@reports_errors
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
        _sync_and_print(project, campaign_ids, live)
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
    "--locale", type=click.Choice(LOCALES), help="Language of the campaign. Default: from settings."
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
    from newsletter.project.scaffold import new_campaign

    project = obj.project()
    path = new_campaign(project, campaign_id, column_file, books, locale)
    click.echo(f"wrote {path.relative_to(project.root)}; edit it, then run: newsletter build {campaign_id}")


@main.command()
@click.argument("campaign_ids", nargs=-1, metavar="[CAMPAIGN_ID]...")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
@click.pass_obj
@reports_errors
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


# -- reviewing: the live preview and screenshots ---------------------------------------------


@main.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port on 127.0.0.1; a free one is taken when it is in use.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the gallery in the default browser.")
@click.pass_obj
@reports_errors
def preview(obj: Context, port: int, open_browser: bool) -> None:
    """Serve the review pages on 127.0.0.1, rebuild on every change and reload open pages.

    Watches campaigns/, columns/, books/, authors.yaml, templates/, newsletter.toml and
    payments.lock.json. A build error shows in the page, with file and line, until it is fixed.
    Ctrl-C stops the server.
    """
    import webbrowser

    from newsletter.review.preview import PreviewServer, Rebuild

    project = obj.project()

    def report(rebuild: Rebuild) -> None:
        built = ", ".join(rebuild.campaigns) or "nothing"
        took = f"{rebuild.seconds * 1000:.0f} ms"
        if rebuild.changed:
            changed = ", ".join(display_path(path, project.root) for path in rebuild.changed)
            click.echo(f"{changed} changed: rebuilt {built} in {took}")
        else:
            click.echo(f"built {built} in {took}")
        print_errors(rebuild.errors, project.root)
        if rebuild.crash:
            click.echo(rebuild.crash, err=True)

    server = PreviewServer(project, port=port, on_rebuild=report).start()
    try:
        taken = f" (port {port} is in use)" if port and not server.url.endswith(f":{port}/") else ""
        click.echo(f"serving the review pages at {server.url}{taken}; Ctrl-C stops")
        if open_browser:
            webbrowser.open(server.url)
        server.wait()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.stop()


@main.command()
@click.argument("campaign_id")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the PNG files. Default: build/<CAMPAIGN_ID>/",
)
@click.option(
    "--chromium",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The Chromium executable. Default: $NEWSLETTER_CHROMIUM, else chromium on the PATH.",
)
@click.pass_obj
@reports_errors
def screenshot(obj: Context, campaign_id: str, out: Path | None, chromium: Path | None) -> None:
    """PNG images of a campaign's email at 600 and 375 px wide, taken with headless Chromium.

    \b
    Example:
      newsletter screenshot 2026-12-schrijven --out /tmp/shots
    """
    from newsletter.review.screenshot import screenshot_campaign

    project = obj.project()
    for shot in screenshot_campaign(project, campaign_id, out=out, chromium=chromium):
        click.echo(f"wrote {display_path(shot.path, project.root)} ({shot.width}×{shot.height} px)")


# -- Stripe Payment Links ----------------------------------------------------------------------


@main.group()
def links() -> None:
    """Stripe Payment Links for the books in campaigns (key from STRIPE_API_KEY)."""


@links.command("sync")
@click.argument("campaign_ids", nargs=-1, metavar="[CAMPAIGN_ID]...")
@click.option("--live", is_flag=True, help="Accept a live key: this project sells for real.")
@click.pass_obj
@reports_errors
def links_sync(obj: Context, campaign_ids: tuple[str, ...], live: bool) -> None:
    """Create the missing Product, Price and Payment Link of every book, and record them.

    Nothing is ever created twice: existing objects are found first, every create carries an
    idempotency key, and payments.lock.json remembers what Stripe confirmed.
    """
    _sync_and_print(obj.project(), campaign_ids, live)


def _sync_and_print(project: Project, campaign_ids: tuple[str, ...], live: bool) -> None:
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
@reports_errors
def links_list(obj: Context) -> None:
    """Every Payment Link in the lock file, with its mode and whether it is active."""
    from newsletter.payments.stripe_links import load_lock

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
@reports_errors
def links_deactivate(obj: Context, campaign_id: str, live: bool) -> None:
    """Switch off a campaign's links when its promotion ends (buyers then see its inactive message)."""
    from newsletter.payments.stripe_links import deactivate_campaign

    project = obj.project()
    done = deactivate_campaign(project, _one_campaign(project, campaign_id), live=live)
    for link in done:
        click.echo(f"deactivated {link.sku}: {link.url}")
    if not done:
        click.echo(f"{campaign_id} has no active links")


@main.command()
@click.argument("campaign_id")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--live", is_flag=True, help="Accept a live key: this project sells for real.")
@click.pass_obj
@reports_errors
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


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


# -- subscribers -------------------------------------------------------------------------------

_STATUS_CHOICE = click.Choice([*STATUSES, "all"])


@main.group()
def audience() -> None:
    """The subscribers: import CSV lists, suppress addresses, list, count and export.

    They live in audience.sqlite3 in the project (settings: [audience] database), created on first use.
    """


@audience.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", help="Where these subscribers came from. Default: the file name.")
@click.pass_obj
@reports_errors
def audience_import(obj: Context, file: Path, source: str | None) -> None:
    """Add the subscribers in a CSV file (UTF-8; delimiter , ; tab or |; a header row).

    Columns (any case): email / e-mail / e-mailadres (required), name / naam, locale / taal (nl or en,
    default from settings), tags / labels, status. Duplicates are merged; an unsubscribed, bounced or
    complained address is never made active again.

    Exit code 0 when every row was imported, 1 when some rows were bad (the good ones are imported,
    each bad one is reported with its line), 2 when the file cannot be read (nothing is imported).
    """
    from newsletter.mail.audience import import_csv, open_audience

    project = obj.project()
    with open_audience(project) as store:
        report = import_csv(store, file, default_locale=project.settings.locale, source=source or file.name)
    click.echo(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.kept_suppressed} kept suppressed, {len(report.bad)} bad"
        + (f" ({report.duplicates} duplicate rows merged)" if report.duplicates else "")
    )
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
@click.pass_obj
@reports_errors
def audience_list(obj: Context, status: str, locale: str | None, tags: tuple[str, ...]) -> None:
    """The subscribers, by id."""
    from newsletter.mail.audience import open_audience, select

    with open_audience(obj.project()) as store:
        found = select(store, status=None if status == "all" else status, locale=locale, tags=tags)
    rows = [[str(s.id), s.email, s.name, s.locale, " ".join(s.tags), s.status] for s in found]
    click.echo(table(["id", "email", "name", "locale", "tags", "status"], rows) if rows else "no subscribers")


@audience.command("count")
@click.pass_obj
@reports_errors
def audience_count(obj: Context) -> None:
    """How many subscribers per status and locale."""
    from newsletter.mail.audience import count, open_audience

    with open_audience(obj.project()) as store:
        counts = count(store)
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
@reports_errors
def audience_suppress(obj: Context, file: Path, status: str) -> None:
    """Never mail these addresses again: one per line, or a CSV with an email column.

    Unknown addresses are added as suppressed, so a later import cannot make them active. Exit code 1
    when some lines were not addresses (the others are suppressed), 2 when the file cannot be read.
    """
    from newsletter.mail.audience import open_audience, suppress

    project = obj.project()
    with open_audience(project) as store:
        report = suppress(store, file, status=status, default_locale=project.settings.locale)
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
@reports_errors
def audience_export(
    obj: Context, out: Path | None, status: str, locale: str | None, tags: tuple[str, ...]
) -> None:
    """Write the subscribers as UTF-8 CSV, which `audience import` reads back."""
    from newsletter.mail.audience import export_csv, open_audience

    project = obj.project()
    with open_audience(project) as store:
        written = export_csv(store, out, status=None if status == "all" else status, locale=locale, tags=tags)
    if out is not None:
        click.echo(f"wrote {written} subscribers to {display_path(out, project.root)}")


# -- sending -----------------------------------------------------------------------------------

SHOWN = 20  # recipients and exclusions printed by a dry run before "... and N more"


@main.command()
@click.argument("campaign_id")
@click.option("--dry-run", is_flag=True, help="Show what would go out and write it to build/<id>/outbox/.")
@click.option("--limit", type=click.IntRange(min=0), help="With --dry-run: write only the first N messages.")
@click.option(
    "--to", "to_address", metavar="ADDRESS", help="A test send to this one address ([TEST] subject)."
)
@click.option("--force", is_flag=True, help="Send although the checks that guard a send fail.")
@click.option(
    "--new-subscribers-only", is_flag=True, help="Send a finished campaign to those who subscribed since."
)
@click.option("--retry-unknown", is_flag=True, help="Also resend to recipients whose delivery is unknown.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation before a real send.")
@click.pass_obj
@reports_errors
def send(
    obj: Context,
    campaign_id: str,
    dry_run: bool,
    limit: int | None,
    to_address: str | None,
    force: bool,
    new_subscribers_only: bool,
    retry_unknown: bool,
    yes: bool,
) -> None:
    """Send a campaign to its audience over SMTP, or show what would go out (--dry-run).

    A real send records every recipient in the send log, so running it again resumes: it sends to
    everyone still pending or deferred and to nobody else. The SMTP password comes from
    NEWSLETTER_SMTP_PASSWORD, the unsubscribe signing secret from NEWSLETTER_UNSUBSCRIBE_SECRET.

    Exit code 0 when the run went through, 1 when it paused or left recipients deferred or unknown, or
    the server refused some, 2 when it could not start or lost its connection to the server.
    """
    from newsletter.mail import sending

    if limit is not None and not dry_run:
        raise click.UsageError("--limit goes with --dry-run")
    if dry_run and to_address is not None:
        raise click.UsageError("--to sends one real test message; leave out --dry-run")
    project = obj.project()
    prepared = sending.prepare(project, campaign_id)
    if dry_run:
        _report_dry_run(
            sending.dry_run(
                prepared, limit=limit, new_subscribers_only=new_subscribers_only, retry_unknown=retry_unknown
            ),
            project,
        )
        return
    if to_address is not None:  # even "" (an unset variable in a script) is never a real send
        sending.test_send(prepared, to_address)
        click.echo(f"sent a test of {campaign_id} to {to_address}")
        return
    _real_send(prepared, force=force, new_only=new_subscribers_only, retry_unknown=retry_unknown, yes=yes)


def _report_dry_run(result: Any, project: Project) -> None:
    from newsletter.mail.sending import DryRun

    assert isinstance(result, DryRun)
    rendered = result.prepared.rendered
    found = result.audit
    click.echo(f"dry run of {rendered.campaign.id}: nothing was sent and nothing recorded")
    click.echo(f"subject: {rendered.campaign.subject}")
    click.echo(f"message size: {result.message_bytes / 1024:.1f} KB")
    if found.started:
        counts = ", ".join(f"{n} {state}" for state, n in found.counts.items() if n)
        click.echo(f"send log: {counts}" + (" (finished)" if found.finished else ""))
    click.echo(f"\nrecipients: {len(found.recipients)}")
    for recipient in found.recipients[:SHOWN]:
        click.echo(f"  {recipient.email}" + (f"  ({recipient.name})" if recipient.name else ""))
    _more(len(found.recipients))
    excluded = found.plan.excluded
    click.echo(f"excluded: {len(excluded)}" + (f" (and {found.plan.other_locales} of other locales)"))
    for address, why in excluded[:SHOWN]:
        click.echo(f"  {address}: {why}")
    _more(len(excluded))
    click.echo("\nlinks:")
    click.echo(table(["block", "kind", "url"], [[ln.block, str(ln.kind), ln.url] for ln in rendered.links]))
    blockers = result.prepared.blockers
    click.echo(f"\nchecks that would stop a real send: {len(blockers) or 'none'}")
    for blocker in blockers:
        click.echo(f"  - {blocker}")
    if result.temporary_secret:
        click.echo("(the unsubscribe tokens in the outbox are signed with a throw-away secret)")
    where = display_path(result.outbox, project.root)
    click.echo(f"\nwrote {result.written} of {len(found.recipients)} messages to {where}/")


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _more(total: int) -> None:
    if total > SHOWN:
        click.echo(f"  ... and {total - SHOWN} more")


def _real_send(prepared: Any, *, force: bool, new_only: bool, retry_unknown: bool, yes: bool) -> None:
    from newsletter.mail import sending

    campaign = prepared.rendered.campaign
    if prepared.blockers and force:
        click.secho(
            f"sending despite {len(prepared.blockers)} failed checks (--force)", fg="yellow", err=True
        )
    if not yes:
        click.confirm(f"Send {campaign.id} ({campaign.subject!r}) to its audience now?", abort=True, err=True)
    bar: Any = None
    started = time.monotonic()
    drawing = threading.Lock()

    def start(total: int) -> None:
        nonlocal bar, started
        bar = click.progressbar(
            length=total,
            label=f"sending {campaign.id}",
            show_eta=True,
            item_show_func=lambda rate: rate,
            file=sys.stderr,
        )
        bar.__enter__()
        started = time.monotonic()

    def advance(entry: Any, state: str) -> None:
        with drawing:  # called from every sending thread
            if bar is not None:
                rate = (bar.pos + 1) / max(time.monotonic() - started, 1e-6)
                bar.update(1, f"{rate:.0f} messages/s")

    try:
        report = sending.send(
            prepared,
            force=force,
            new_subscribers_only=new_only,
            retry_unknown=retry_unknown,
            on_start=start,
            on_result=advance,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    _summarise(report, prepared.project)


def _summarise(report: Any, project: Project) -> None:
    from newsletter.mail import sendlog
    from newsletter.mail.audience import open_audience

    outcomes = ", ".join(f"{n} {state}" for state, n in sorted(report.outcomes.items())) or "nothing to send"
    click.echo(f"{report.campaign}: {outcomes} in {report.seconds:.1f} s ({report.rate:.0f} messages/s)")
    if report.bounced:
        click.echo(f"{_count(report.bounced, 'address does', 'addresses do')} not exist: marked bounced")
    if report.skipped:
        click.echo(f"{report.skipped} skipped: unsubscribed or bounced since the send began")
    if report.recovered_unknown:
        being = _count(report.recovered_unknown, "was", "were")
        click.echo(f"{being} being sent when an earlier run stopped: delivery unknown")
    with open_audience(project) as store:
        counts = sendlog.counts(store, report.campaign)
        retry = sendlog.next_retry(store, report.campaign)
    click.echo("send log: " + ", ".join(f"{n} {state}" for state, n in counts.items() if n))
    if report.stopped is not None:
        stopped = report.stopped
        resume = (
            f"{counts['pending']} recipients are still pending; run `newsletter send {report.campaign}` "
            "again to resume"
        )
        raise NewsletterError(
            stopped.message, field=stopped.field, hint="; ".join(filter(None, [stopped.hint, resume]))
        )
    if report.paused:
        click.secho(f"paused: {report.paused}", fg="yellow", err=True)
        click.echo(f"run `newsletter send {report.campaign}` again to resume", err=True)
    if counts["deferred"]:
        click.echo(f"{counts['deferred']} deferred; they are retried by a run after {retry}", err=True)
    if counts["unknown"]:
        click.echo(
            f"{counts['unknown']} unknown: the server may have accepted them; `newsletter status "
            f"{report.campaign}` lists them, --retry-unknown resends",
            err=True,
        )
    if report.paused or counts["deferred"] or counts["unknown"] or report.outcomes.get("failed"):
        sys.exit(EXIT_WARNINGS)


@main.command()
@click.argument("campaign_id")
@click.option(
    "--list",
    "list_states",
    multiple=True,
    type=click.Choice(SEND_STATES),
    help="Also list the recipients in this state. Repeatable.",
)
@click.pass_obj
@reports_errors
def status(obj: Context, campaign_id: str, list_states: tuple[str, ...]) -> None:
    """How far the sending of a campaign got: recipients per state in the send log."""
    from newsletter.mail.sending import log_status

    counts, listed = log_status(obj.project(), campaign_id, list_states)
    if not any(counts.values()):
        click.echo(f"{campaign_id} has not been sent")
        return
    click.echo(table(["state", "recipients"], [[state, str(n)] for state, n in counts.items()]))
    if listed:
        click.echo("")
        rows = [[r.email, r.state, str(r.attempts), r.smtp_response, r.updated_at] for r in listed]
        click.echo(table(["email", "state", "attempts", "last reply", "updated"], rows))


@main.group()
def unsubscribe() -> None:
    """One-click unsubscribe tokens (the links in List-Unsubscribe and the footer)."""


@unsubscribe.command("verify")
@click.argument("token")
@click.option("--apply", is_flag=True, help="Also unsubscribe the address, as the website would.")
@click.pass_obj
@reports_errors
def unsubscribe_verify(obj: Context, token: str, apply: bool) -> None:
    """Check a token from an unsubscribe URL and show whom it unsubscribes.

    Needs NEWSLETTER_UNSUBSCRIBE_SECRET, the secret the token was signed with. Exit code 2 when the
    token is damaged or forged.
    """
    from newsletter.mail.unsubscribe import read_token, secret_from_env
    from newsletter.mail.unsubscribe import unsubscribe as apply_token

    project = obj.project()
    if apply:
        done = apply_token(project, token)
        state = "unsubscribed" if done.changed else "already unsubscribed"
        click.echo(f"{done.token.email}: {state} (campaign {done.token.campaign_id})")
        return
    checked = read_token(token, secret_from_env())
    click.echo(f"valid token for {checked.email}, from campaign {checked.campaign_id}")
