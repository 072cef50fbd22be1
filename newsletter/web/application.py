"""The WSGI application behind `newsletter serve`: the pages and endpoints readers reach from an email.

Routes (everything else is the static site under `build/site/`, or 404):

- the path of `unsubscribe_url` (`/nieuwsbrief/afmelden` in the sample), with `?token=...`:
  `GET`/`HEAD` shows a confirmation page in the language of the token's campaign, whose button
  POSTs the token back; `POST` unsubscribes. A POST with the body `List-Unsubscribe=One-Click`
  (RFC 8058: what Gmail and Yahoo send when the reader clicks "unsubscribe" in the inbox) gets a
  short text/plain answer; the confirmation form's POST (field `confirm`) gets the "done" page.
  A GET never unsubscribes: virus scanners and link previews fetch every URL in an email.
- below `[signup] url`: the sign-up, its confirmation, the preference centre and the data page
  (signup_routes.py), when newsletter.toml has a [signup] section.
- `[stripe] webhook_path` (`/webhooks/stripe`): Stripe's events, the orders as they are paid
  (payments/orders.py), when newsletter.toml has a [stripe] section.
- `POST /webhooks/ses` and `/webhooks/postmark`: bounce and complaint notifications, handed to
  `newsletter.web.webhooks.handle` (404 while that module does not exist).

Why the confirmation form carries no CSRF token: a CSRF token protects what a browser's session
(cookies) lets a request do. Here there is no session and no cookie; what authorises the POST is
the signed unsubscribe token itself, which only the email's recipient holds. A page elsewhere that
had the token could POST it just as well without the reader's browser, and one-click unsubscribe
(RFC 8058) is exactly such a cookie-less POST by design. So the form adds nothing to protect, and
`form-action 'self'` plus `frame-ancestors 'none'` keep the page from being framed or re-targeted.

Every answer, errors included, carries the headers of `responses.py`; a forged or damaged token
gets a 400 page that shows neither the token nor the reason, and an unexpected error a 500 page
(the traceback goes to the log, never to the reader).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast
from urllib.parse import urlsplit

from newsletter.api import Newsletter, open_project
from newsletter.audience.unsubscribe import Token, signing_key
from newsletter.bounces import notifications as bounce_notifications
from newsletter.errors import NewsletterError
from newsletter.project.environment import PROJECT_DIR, project_dir
from newsletter.project.settings import Project, find_project_root
from newsletter.web import unsubscribe_pages as pages
from newsletter.web.group_commit import GroupCommit
from newsletter.web.request import Request
from newsletter.web.responses import TEXT, HttpError, Response, not_allowed, not_found
from newsletter.web.serve_files import StaticSite
from newsletter.web.signup_routes import SignupRoutes

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from newsletter.signup.service import Signups

MAX_FORM_BYTES = 16 * 1024  # a token and two fields; anything bigger is not a reader
MAX_WEBHOOK_BYTES = 1024 * 1024
SITE_FOLDER = Path("build") / "site"

log = logging.getLogger("newsletter.web")


class WebhookHandler(Protocol):
    """`newsletter.web.webhooks.handle`: (status, short text) for one notification."""

    def __call__(
        self, project: Project, service: str, headers: Mapping[str, str], body: bytes, *, query: str = ""
    ) -> tuple[int, str]: ...


def make_app(project: Newsletter | Path, *, signups: Signups | None = None) -> WSGIApplication:
    """The app for an opened project (or the one in a folder, its secrets from the environment). A
    project without an unsubscribe secret, or with [signup] but no [smtp] to send the confirmations,
    is a NewsletterError here, so that a server refuses to start rather than answer 500s. `signups`
    replaces the sign-up desk `Newsletter.signups()` makes (a test's clock or transport)."""
    opened = project if isinstance(project, Newsletter) else open_project(project)
    signing_key(opened.secrets)
    if signups is None and opened.settings.signup is not None:
        signups = opened.signups()
    if signups is not None:
        signups.purge_expired()  # also when nobody signs up for a while
    return ReaderApp(opened, signups)


@cache
def environment_app() -> WSGIApplication:
    """`newsletter.wsgi:app`: the project in NEWSLETTER_PROJECT, else the current folder or the
    nearest above it, found as the CLI finds it, its secrets from the environment. Made once."""
    try:
        root = find_project_root(project_dir() or Path.cwd())
    except NewsletterError as error:
        raise NewsletterError(error.message, hint=f"set {PROJECT_DIR} to the project folder") from None
    return make_app(open_project(root))


class ReaderApp:
    def __init__(self, newsletter: Newsletter, signups: Signups | None = None) -> None:
        self.newsletter = newsletter
        self.signup = None if signups is None else SignupRoutes(signups, newsletter.settings)
        self.project: Project = newsletter.project
        self.settings = newsletter.settings
        self.unsubscribes = GroupCommit(newsletter.project)  # the POSTs of the moment, committed together
        self.unsubscribe_path = urlsplit(self.settings.unsubscribe_url).path.rstrip("/") or "/"
        self.site = StaticSite(newsletter.root / SITE_FOLDER)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.route(request)
        except HttpError as error:
            response = Response(error.status, pages.message_page(self.settings, error.key))
            response.headers += error.headers
        except NewsletterError as error:  # the database is busy or cannot be written: try again later
            log.error("%s failed: %s", request.shown, error.format())
            response = Response(
                503, pages.message_page(self.settings, "error"), headers=[("Retry-After", "60")]
            )
        except Exception:
            log.exception("%s failed", request.shown)
            response = Response(500, pages.message_page(self.settings, "error"))
        start_response(response.status_line(), response.all_headers())
        return [b""] if request.method == "HEAD" else [response.body]

    def route(self, request: Request) -> Response:
        path = request.path
        if path in (self.unsubscribe_path, self.unsubscribe_path + "/"):
            return self.unsubscribe(request)
        if self.settings.stripe is not None and path == self.settings.stripe.webhook_path:
            return self.stripe_webhook(request)
        if path.startswith("/webhooks/"):
            return self.webhook(request, path.removeprefix("/webhooks/"))
        if self.signup is not None and self.signup.owns(path):
            return self.signup.route(request)
        if request.method not in ("GET", "HEAD"):
            raise not_allowed("GET", "HEAD")
        return self.site.respond(path)

    # -- unsubscribing -------------------------------------------------------------------------

    def unsubscribe(self, request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            token = request.query("token")
            checked = self._checked(token)
            if checked is None:
                return self._invalid()
            page = pages.confirm_page(self.settings, self.locale_of(checked), token, _shown(checked))
            return Response(200, page, csp=pages.csp_with_logo(self.settings))
        if request.method != "POST":
            raise not_allowed("GET", "HEAD", "POST")
        form = request.form(MAX_FORM_BYTES)
        token = request.query("token") or form.get("token", "")
        return self._apply(token, page="confirm" in form)

    def _apply(self, token: str, *, page: bool) -> Response:
        """Any POST with a genuine token unsubscribes: RFC 8058 asks for the body
        `List-Unsubscribe=One-Click`, but some mailbox providers send it as multipart, and refusing
        those would keep mailing a reader who asked to leave."""
        try:
            how = "unsubscribe page" if page else "List-Unsubscribe-Post"
            done = self.unsubscribes.unsubscribe(token, how=how)
        except NewsletterError as error:
            if error.field != "token":
                raise
            log.info("unsubscribe refused: %s", error.message)
            return self._invalid()
        outcome = "test" if done.token.is_test else "done" if done.changed else "already"
        log.info(
            "unsubscribe %s: %s from %s (%s)",
            outcome,
            _who(done.token),
            done.token.campaign_id,
            "page" if page else "one-click",
        )
        if not page:
            return Response(200, _ONE_CLICK_ANSWERS[outcome], content_type=TEXT)
        locale = self.locale_of(done.token)
        shown = pages.done_page(self.settings, locale, outcome, _shown(done.token))
        return Response(200, shown, csp=pages.csp_with_logo(self.settings))

    def _checked(self, token: str) -> Token | None:
        """The token when it is genuine and its subscriber still there (looked up read-only), so the
        reader is not asked to press a button that can only fail; None otherwise."""
        try:
            return self.newsletter.read_token(token)
        except NewsletterError as error:
            if error.field != "token":
                raise
            log.info("unsubscribe page refused: %s", error.message)
            return None

    def _invalid(self) -> Response:
        return Response(400, pages.invalid_page(self.settings, self.settings.locale), csp=pages.CSP)

    def locale_of(self, token: Token) -> str:
        """The language of the token's campaign, from its file; the project's when it is gone."""
        from newsletter.project.models import CAMPAIGN_ID
        from newsletter.vocabulary import LOCALES

        if CAMPAIGN_ID.fullmatch(token.campaign_id):
            path = self.project.campaigns_dir / f"{token.campaign_id}.yaml"
            locale = _yaml_field(path, "locale")
            if locale in LOCALES:
                return locale
        return self.settings.locale

    # -- webhooks ------------------------------------------------------------------------------

    def webhook(self, request: Request, service: str) -> Response:
        if service not in bounce_notifications.SERVICES:
            raise not_found()
        if request.method != "POST":
            raise not_allowed("POST")
        handle = _webhook_handler()
        if handle is None:
            raise not_found()
        body = request.body(MAX_WEBHOOK_BYTES)
        status, text = handle(self.project, service, request.headers(), body, query=request.query_string)
        if not 200 <= status <= 599:
            raise ValueError(f"webhooks.handle answered status {status}")
        return Response(status, text.encode("utf-8") + b"\n", content_type=TEXT)

    def stripe_webhook(self, request: Request) -> Response:
        """Stripe's events: 200 once applied (or already, or of a type we do not need: Stripe would
        retry anything else for days), 400 for a request that is not a genuine event, 503 while the
        signing secret is not set or the database is busy (Stripe retries, and a retry is applied
        once)."""
        from newsletter.payments.orders import BadEvent

        if request.method != "POST":
            raise not_allowed("POST")
        body = request.body(MAX_WEBHOOK_BYTES)
        try:
            done = self.newsletter.stripe_event(body, request.headers().get("stripe-signature", ""))
        except BadEvent as bad:
            log.info("stripe webhook refused: %s", bad.message)
            return Response(400, b"not a genuine Stripe event\n", content_type=TEXT)
        log.info("stripe webhook: %s %s", done.event, done.outcome)
        return Response(200, f"{done.outcome}\n".encode(), content_type=TEXT)


_ONE_CLICK_ANSWERS = {
    "done": b"unsubscribed\n",
    "already": b"already unsubscribed\n",
    "test": b"test email: nobody was unsubscribed\n",
}


def _yaml_field(path: Path, name: str) -> str | None:
    """One top-level field of a YAML file, or None when it cannot be read: only a page's language
    depends on it, so a broken campaign file must not break unsubscribing."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, yaml.YAMLError):
        return None
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _shown(token: Token) -> str | None:
    """The address a reader's page names (masked there); a test send's token names none."""
    return None if token.is_test else token.address


def _who(token: Token) -> str:
    """How the log names the reader: by subscriber id when there is one, never by address."""
    if token.is_test:
        return "a test address"
    return (
        "a version 1 token's address" if token.subscriber_id is None else f"subscriber {token.subscriber_id}"
    )


def _webhook_handler() -> WebhookHandler | None:
    """`webhooks.handle`, imported when first needed, so this app works before that module exists."""
    import importlib

    try:
        module = importlib.import_module("newsletter.web.webhooks")
    except ModuleNotFoundError as missing:
        if missing.name != "newsletter.web.webhooks":
            raise  # the module is there, but something it imports is not: a real error
        return None
    return cast(WebhookHandler, module.handle)
