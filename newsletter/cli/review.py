"""Reviewing: the live-reloading preview server and screenshots in headless Chromium."""

from __future__ import annotations

from pathlib import Path

import click

from newsletter.cli.common import (
    Context,
    print_errors,
)
from newsletter.errors import display_path


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port on 127.0.0.1; a free one is taken when it is in use.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the gallery in the default browser.")
@click.pass_obj
def preview(obj: Context, port: int, open_browser: bool) -> None:
    """Serve the review pages on 127.0.0.1, rebuild on every change and reload open pages.

    Watches campaigns/, columns/, books/, authors.yaml, templates/, newsletter.toml and
    payments.lock.json. A build error shows in the page, with file and line, until it is fixed.
    Ctrl-C stops the server.
    """
    import webbrowser

    from newsletter.preview.server import PreviewServer, Rebuild

    project = obj.open().project

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


@click.command()
@click.argument("campaign_id")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the PNG files. Default: build/<CAMPAIGN_ID>/",
)
@click.option(
    "--chromium",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="NEWSLETTER_CHROMIUM",
    help="The Chromium executable. Default: $NEWSLETTER_CHROMIUM, else chromium on the PATH.",
)
@click.pass_obj
def screenshot(obj: Context, campaign_id: str, out: Path | None, chromium: Path | None) -> None:
    """PNG images of a campaign's email at 600 and 375 px wide, taken with headless Chromium.

    \b
    Example:
      newsletter screenshot 2026-12-schrijven --out /tmp/shots
    """
    project = obj.open()
    for shot in project.screenshot(campaign_id, out=out, chromium=chromium):
        click.echo(f"wrote {display_path(shot.path, project.root)} ({shot.width}×{shot.height} px)")
