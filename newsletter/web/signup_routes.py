"""The sign-up's URLs below `[signup] url` (`/nieuwsbrief/aanmelden` in the docs' examples):

- `GET <url>`, `GET <url>/nl`, `GET <url>/en`: the hosted sign-up page (the project's language, or
  the one named). `POST` to any of them signs up: from the hosted page, or from a plain HTML form
  on the publisher's own site (`newsletter form` prints one), which is another origin: a form post
  needs no CORS. The answer is a 303 to `redirect` (a page of `site_url` the form names), to
  `[signup] redirect_to`, or to the hosted "check your inbox" page: the same for every address.
- `GET <url>/challenge`: a proof-of-work challenge (JSON) for the hosted page's widget, and
  `GET <url>/altcha/altcha.min.js` (with its worker.js and altcha.css) the widget itself, vendored
  into this package (web/static/altcha/).
- `GET <url>/confirm?token=...` shows a button (mail scanners fetch every link, and must not
  confirm anything); its `POST` confirms.
- `GET <url>/preferences?token=...`: the preference centre; its `POST` saves (`action=save`),
  mails the data link (`action=data`) or unsubscribes from everything (`action=leave`).
- `GET <url>/data?token=...`: what is stored about the reader, through a link mailed to them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import urlsplit

from newsletter.errors import NewsletterError
from newsletter.project.settings import Settings
from newsletter.signup.forms import FormProblem, first
from newsletter.signup.limits import client_address
from newsletter.signup.service import Signups, TooMany
from newsletter.vocabulary import LOCALES
from newsletter.web import signup_pages as pages
from newsletter.web.request import Request
from newsletter.web.responses import HttpError, Response, not_allowed, not_found

log = logging.getLogger("newsletter.web")

MAX_SIGNUP_BYTES = 8 * 1024  # an address, a name, a few topics and a solved challenge
WIDGET = Path(__file__).parent / "static" / "altcha"
WIDGET_FILES = {  # the vendored ALTCHA widget: its script starts worker.js from beside itself
    "altcha/altcha.min.js": "text/javascript; charset=utf-8",
    "altcha/worker.js": "text/javascript; charset=utf-8",
    "altcha/altcha.css": "text/css; charset=utf-8",
}
JSON = "application/json"


class SignupRoutes:
    def __init__(self, signups: Signups, settings: Settings) -> None:
        self.signups = signups
        self.settings = settings
        self.base = urlsplit(signups.settings.url).path.rstrip("/") or ""

    def owns(self, path: str) -> bool:
        return path == self.base or path.startswith(self.base + "/")

    def route(self, request: Request) -> Response:
        rest = request.path[len(self.base) :].strip("/")
        if rest in ("", *LOCALES):
            return self.signup(request, rest or self.settings.locale)
        if rest in (f"{locale}/ok" for locale in LOCALES):
            _get_only(request)
            return self.page(rest[:2], "inbox")
        if rest in WIDGET_FILES:
            return self.widget(request, rest)
        handlers = {
            "challenge": self.challenge,
            "confirm": self.confirm,
            "preferences": self.preferences,
            "data": self.data,
        }
        if rest not in handlers:
            raise not_found()
        return handlers[rest](request)

    # -- signing up ----------------------------------------------------------------------------

    def signup(self, request: Request, locale: str) -> Response:
        if request.method in ("GET", "HEAD"):
            return self.form_page(locale)
        if request.method != "POST":
            raise not_allowed("GET", "HEAD", "POST")
        fields = request.form_lists(MAX_SIGNUP_BYTES)
        client = client_address(
            request.remote_address,
            str(request.environ.get("HTTP_X_FORWARDED_FOR", "")),
            self.signups.settings.trusted_proxies,
        )
        try:
            answer = self.signups.sign_up(fields, client)
        except FormProblem as problem:
            values: dict[str, object] = {key: first(fields, key) for key in ("email", "name")}
            values["topics"] = tuple(fields.get("topics", []))
            values["locale"] = first(fields, "locale") if first(fields, "locale") in LOCALES else locale
            return self.form_page(locale, status=400, values=values, errors={problem.field: problem.key})
        except TooMany as limited:
            log.info("sign-up refused: %s", limited.message)
            page = pages.message(self.settings, locale, "too_many")
            return Response(429, page, csp=pages.csp(self.settings), headers=[("Retry-After", "3600")])
        target = self._redirect(first(fields, "redirect")) or f"{self.base}/{answer.locale}/ok"
        return Response(303, b"", headers=[("Location", target)])

    def form_page(
        self,
        locale: str,
        *,
        status: int = 200,
        values: dict[str, object] | None = None,
        errors: dict[str, str] | None = None,
    ) -> Response:
        body = pages.signup_page(
            self.settings,
            locale,
            action=f"{self.base}/{locale}",
            consent=self.signups.consent_text(locale),
            started=self.signups.started_token(),
            challenge_url=f"{self.base}/challenge",
            widget_url=f"{self.base}/altcha/",
            values=values,
            errors=errors,
        )
        return Response(status, body, csp=pages.csp(self.settings, widget=True))

    def _redirect(self, given: str) -> str | None:
        """Where the reader goes next: a page of the publisher's site, never anywhere else (an open
        redirect would lend the publisher's name to any link)."""
        for url in (given, self.signups.settings.redirect_to or ""):
            if _safe_redirect(url, self.settings):
                return url
        return None

    def challenge(self, request: Request) -> Response:
        _get_only(request)
        body = json.dumps(self.signups.challenge()).encode("utf-8")
        return Response(200, body, content_type=JSON)

    def widget(self, request: Request, name: str) -> Response:
        _get_only(request)
        body = (WIDGET / name.removeprefix("altcha/")).read_bytes()
        return Response(200, body, content_type=WIDGET_FILES[name], cache="public, max-age=86400")

    # -- confirming ----------------------------------------------------------------------------

    def confirm(self, request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            token = request.query("token")
            try:
                _, subscriber = self.signups.confirmation(token)
            except NewsletterError as error:
                return self._refused(error, "confirm")
            page = pages.confirm_page(self.settings, subscriber.locale, token)
            return Response(200, page, csp=pages.csp(self.settings))
        if request.method != "POST":
            raise not_allowed("GET", "HEAD", "POST")
        token = request.query("token") or first(request.form_lists(MAX_SIGNUP_BYTES), "token")
        try:
            done = self.signups.confirm(token)
        except NewsletterError as error:
            return self._refused(error, "confirm")
        log.info(
            "sign-up %s: subscriber %d", "confirmed" if done.newly else "confirmed again", done.subscriber.id
        )
        return self.page(done.subscriber.locale, "confirmed" if done.newly else "already")

    # -- the preference centre -----------------------------------------------------------------

    def preferences(self, request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            return self._preferences_page(request.query("token"))
        if request.method != "POST":
            raise not_allowed("GET", "HEAD", "POST")
        fields = request.form_lists(MAX_SIGNUP_BYTES)
        token = request.query("token") or first(fields, "token")
        action = first(fields, "action")
        try:
            if action == "leave":
                subscriber = self.signups.leave(token)
                return self.page(subscriber.locale, "left")
            if action == "data":
                self.signups.send_data_link(token)
                return self._preferences_page(token, note="data")
            if action != "save":
                raise HttpError(400, "not_allowed")
            self.signups.save_preferences(token, fields)
        except FormProblem:
            raise HttpError(400, "not_allowed") from None
        except NewsletterError as error:
            return self._refused(error, "preferences")
        return self._preferences_page(token, note="saved")

    def _preferences_page(self, token: str, note: str | None = None) -> Response:
        try:
            subscriber = self.signups.reader(token)
        except NewsletterError as error:
            return self._refused(error, "preferences")
        page = pages.preferences_page(
            self.settings,
            subscriber.locale,
            token=token,
            address=subscriber.email,
            name=subscriber.name,
            reader_locale=subscriber.locale,
            chosen=subscriber.topics,
            note=note,
        )
        return Response(200, page, csp=pages.csp(self.settings))

    def data(self, request: Request) -> Response:
        _get_only(request)
        try:
            person = self.signups.data(request.query("token"))
        except NewsletterError as error:
            return self._refused(error, "data")
        page = pages.data_page(self.settings, person.subscriber.locale, person)
        return Response(200, page, csp=pages.csp(self.settings))

    # -- answers -------------------------------------------------------------------------------

    def page(self, locale: str, key: str) -> Response:
        days = self.signups.settings.confirm_days
        return Response(
            200, pages.message(self.settings, locale, key, days=days), csp=pages.csp(self.settings)
        )

    def _refused(self, error: NewsletterError, what: str) -> Response:
        """A damaged, forged or expired link: 400, with a page that says which, never why in detail."""
        if error.field != "token":
            raise error
        log.info("%s link refused: %s", what, error.message)
        key = "expired" if error.hint == "expired" else "invalid"
        page = pages.message(
            self.settings, self.settings.locale, key, days=self.signups.settings.confirm_days
        )
        return Response(400, page, csp=pages.csp(self.settings))


def _safe_redirect(url: str, settings: Settings) -> bool:
    """An https URL of the publisher's site as a browser reads it: printable ASCII only (a header
    can hold nothing else, and a browser would read other characters its own way), no user or
    password, no port but 443, no backslash (which browsers read as a slash)."""
    if not (url.isascii() and url.isprintable()) or " " in url or "\\" in url:
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    plain = parts.username is None and parts.password is None and port in (None, 443)
    return parts.scheme == "https" and plain and settings.is_own_site(url)


def _get_only(request: Request) -> None:
    if request.method not in ("GET", "HEAD"):
        raise not_allowed("GET", "HEAD")
