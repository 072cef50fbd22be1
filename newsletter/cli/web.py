"""`newsletter serve`: the reader-facing endpoints (one-click unsubscribe, webhooks, the static site)."""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING, Any

import click

from newsletter.cli.common import Context
from newsletter.errors import NewsletterError

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

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
    POST /webhooks/ses and /webhooks/postmark take bounces and complaints, and [stripe] webhook_path
    (/webhooks/stripe) Stripe's events: the orders (docs/orders.md, STRIPE_WEBHOOK_SECRET). With a
    [signup] section, the sign-up page, its confirmation, the preference page and the data page are
    below its url (docs/signup.md); the confirmation mails go out through [smtp]. Run it behind a
    web server that terminates HTTPS (docs/serving.md). Needs NEWSLETTER_UNSUBSCRIBE_SECRET, the
    secret the emails' tokens were signed with. Ctrl-C stops.
    """
    from newsletter.web.application import make_app

    project = obj.open()
    application = make_app(project)
    # Unsubscribes (by subscriber id, never by address) and errors, one line each, on stderr.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        server = create_server(application, host, port)
    except OSError as exc:
        raise NewsletterError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="is another server using that port? choose another with --port",
        ) from None
    settings = project.settings
    click.echo(
        f"serving {project.root.name} at http://{host}:{server.effective_port}/ "
        f"(unsubscribe: {settings.unsubscribe_url})"
    )
    if settings.signup is not None:
        click.echo(f"sign-up, confirmation and preference pages below {settings.signup.url}")
    if settings.stripe is not None:
        click.echo(f"Stripe's events at {settings.stripe.webhook_path}")
    click.echo("Ctrl-C stops")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


def create_server(application: WSGIApplication, host: str, port: int, *, threads: int = 16) -> Any:
    """waitress, listening, as `newsletter serve` runs it (call `run` to serve).

    16 threads, not waitress's 4: a one-click POST waits for its unsubscribe to be committed (on disk,
    web/group_commit.py), and the more requests wait together, the more are committed in one go.

    Waitress reads a request's whole body (into a temporary file when it is big) before it calls the
    app, so the app's own limits (MAX_FORM_BYTES, MAX_WEBHOOK_BYTES) refuse a body only once it has
    arrived: raising waitress's limit to let the app answer every 413 would let a client fill the
    disk first. So waitress keeps its `max_request_body_size`, one byte above the app's largest
    limit (waitress refuses a body as long as its limit, the app only a longer one), and the answers
    waitress makes itself get the headers of every answer of the app (responses.py): 413 for a body
    over its limit, with Content-Length or chunked; 400 for a broken chunked body or request; 431,
    501 and 500. A chunked body within the limit reaches the app de-chunked, its CONTENT_LENGTH set,
    and is read like any other.

    waitress would remove X-Forwarded-For unless told which one proxy to believe; the app decides that
    itself (`[signup] trusted_proxies`, signup/limits.py), as it must under any WSGI server, so the
    header is left to it.
    """
    import waitress

    from newsletter.web.application import MAX_WEBHOOK_BYTES

    server = waitress.create_server(
        application,
        host=host,
        port=port,
        threads=threads,
        ident="newsletter",
        max_request_body_size=MAX_WEBHOOK_BYTES + 1,
        clear_untrusted_proxy_headers=False,
    )
    for listener in _listeners(server):
        listener.channel_class = _channel_class()
    return server


def _listeners(server: Any) -> list[Any]:
    """The servers that accept connections: the one returned, or each of a MultiSocketServer's (a
    host name with more than one address)."""
    from waitress.server import BaseWSGIServer

    if isinstance(server, BaseWSGIServer):
        return [server]
    return [each for each in server.map.values() if isinstance(each, BaseWSGIServer)]


@cache
def _channel_class() -> type[Any]:
    """waitress's connection, whose error answers carry `security_headers()`. waitress makes every
    answer of its own through the channel's `error_task_class` (channel.py: `service`), and
    `ErrorTask.execute` adds the error's type and length to the headers the task already holds, so
    ours go in when the task is made."""
    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask

    from newsletter.web.responses import security_headers

    class SecureErrorTask(ErrorTask):  # type: ignore[misc]  # waitress has no type hints
        def __init__(self, channel: Any, request: Any) -> None:
            super().__init__(channel, request)
            self.response_headers.extend(security_headers())

    class SecureChannel(HTTPChannel):  # type: ignore[misc]
        error_task_class = SecureErrorTask

    return SecureChannel


@click.command()
@click.option("--locale", type=click.Choice(["nl", "en"]), help="Default: the project's language.")
@click.option(
    "--name",
    default="website",
    show_default=True,
    help="The form's name, kept with each consent given through it (form:<name>).",
)
@click.option("--redirect", help="The page of your site the reader goes to after signing up.")
@click.pass_obj
def form(obj: Context, locale: str | None, name: str, redirect: str | None) -> None:
    """Print a sign-up form to paste into your own site: plain HTML, no script.

    It posts to `newsletter serve` at [signup] url; the reader gets a confirmation mail (double
    opt-in). The hosted page at that url has the same form with a proof-of-work widget.
    """
    click.echo(obj.open().signup_form(locale, name=name, redirect=redirect), nl=False)
