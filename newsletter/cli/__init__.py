"""The `newsletter` command: parses options, calls the library, reports. No pipeline logic lives here.

One module per command group; this one only assembles them, lazily: a command's module is imported
when that command runs (or its own help is asked for), so `newsletter --help` imports none of them and
`newsletter status` imports only `cli/send.py`. The help listing comes from `COMMANDS`, whose short
help lines `tests/test_startup.py` keeps equal to each real command's.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from newsletter.cli.common import Context, NewsletterGroup

# name: (module in newsletter.cli, attribute, the short help its docstring gives, untruncated)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "audience": (
        "audience",
        "audience",
        "The subscribers: import CSV lists, suppress addresses, list, count, export, show and forget, "
        "and copy the whole store into PostgreSQL.",
    ),
    "bounces": ("bounces", "bounces", "Returned mail: bounces, spam complaints and mailed unsubscribes."),
    "build": ("campaigns", "build", "Render campaigns to build/<id>/email.html, email.txt and meta.json."),
    "check": (
        "campaigns",
        "check",
        "Check campaigns before sending: size, images, links, unsubscribe, order links, subject and "
        "preheader, settings, accessibility, CSS support and the fixed book price law.",
    ),
    "form": ("web", "form", "Print a sign-up form to paste into your own site: plain HTML, no script."),
    "links": (
        "payments",
        "links",
        "Stripe Payment Links for the books in campaigns (key from STRIPE_API_KEY).",
    ),
    "new": ("campaigns", "new", "Write campaigns/CAMPAIGN_ID.yaml from a column, ready to edit."),
    "orders": (
        "orders",
        "orders",
        "The orders paid through the campaigns' Payment Links, as Stripe reported them: for shipping.",
    ),
    "preview": (
        "review",
        "preview",
        "Serve the review pages on 127.0.0.1, rebuild on every change and reload open pages.",
    ),
    "report": (
        "payments",
        "report",
        "What became of a campaign: recipients, delivered, deferred, failed, bounced, complained and "
        "unsubscribed, then what it sold through Stripe (completed checkouts, quantity and revenue per "
        "book and price) and the orders per 1,000 delivered.",
    ),
    "screenshot": (
        "review",
        "screenshot",
        "PNG images of a campaign's email at 600 and 375 px wide, taken with headless Chromium.",
    ),
    "send": (
        "send",
        "send",
        "Send a campaign to its audience over SMTP, or show what would go out (--dry-run).",
    ),
    "serve": (
        "web",
        "serve",
        "Serve the unsubscribe links, webhooks and build/site/ to readers over HTTP.",
    ),
    "status": (
        "send",
        "status",
        "How far the sending of a campaign got: recipients per state in the send log.",
    ),
    "unsubscribe": (
        "send",
        "unsubscribe",
        "One-click unsubscribe tokens (the links in List-Unsubscribe and the footer).",
    ),
}


class LazyGroup(NewsletterGroup):
    """The top group: commands listed from `COMMANDS`, each imported only when it is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute, _ = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"newsletter.cli.{module}"), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.NoSuchCommand as error:  # "did you mean" among all commands, not the imported ones
            raise click.NoSuchCommand(
                error.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists them, shortened the same way, without importing a command."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, self._short_help(ctx, name, limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _short_help(self, ctx: click.Context, name: str, limit: int) -> str:
        if name in COMMANDS and name not in self.commands:
            return click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit)
        command = self.get_command(ctx, name)
        return command.get_short_help_str(limit) if command is not None else ""


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
