"""`newsletter serve`: the reader-facing endpoints (one-click unsubscribe, webhooks, the static site)."""

from __future__ import annotations

import logging

import click

from newsletter.cli.common import Context
from newsletter.errors import NewsletterError

DEFAULT_PORT = 8025


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="The port to listen on (0: any free port).",
)
@click.pass_obj
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the unsubscribe links, webhooks and build/site/ to readers over HTTP.

    The path of unsubscribe_url takes the links of every email (GET asks, POST unsubscribes);
    POST /webhooks/ses and /webhooks/postmark take bounces and complaints. Run it behind a web server
    that terminates HTTPS (docs/serving.md). Needs NEWSLETTER_UNSUBSCRIBE_SECRET, the secret the
    emails' tokens were signed with. Ctrl-C stops.
    """
    import waitress

    from newsletter.web.application import MAX_WEBHOOK_BYTES, make_app

    project = obj.open()
    application = make_app(project)
    # Unsubscribes (by subscriber id, never by address) and errors, one line each, on stderr.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        server = waitress.create_server(
            application, host=host, port=port, ident="newsletter", max_request_body_size=MAX_WEBHOOK_BYTES
        )
    except OSError as exc:
        raise NewsletterError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="is another server using that port? choose another with --port",
        ) from None
    path = project.settings.unsubscribe_url
    click.echo(f"serving {project.root.name} at http://{host}:{server.effective_port}/ (unsubscribe: {path})")
    click.echo("Ctrl-C stops")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
