"""The `newsletter` command: parses options, calls the library, reports. No pipeline logic lives here.

One module per command group; this one only assembles them. Heavy modules are imported inside the
commands so that `newsletter --help` stays instant.
"""

from __future__ import annotations

from pathlib import Path

import click

from newsletter.cli import audience, bounces, campaigns, payments, review, send, web
from newsletter.cli.common import Context, NewsletterGroup


@click.group(cls=NewsletterGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


for command in (
    campaigns.build,
    campaigns.new,
    campaigns.check,
    review.preview,
    review.screenshot,
    payments.links,
    payments.report,
    audience.audience,
    bounces.bounces,
    send.send,
    send.status,
    send.unsubscribe,
    web.serve,
):
    main.add_command(command)
