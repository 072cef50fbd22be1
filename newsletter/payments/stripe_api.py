"""Talking to Stripe: the key, the client, retries, error messages, and one command's session.

Only the payments modules talk to Stripe, and only through the official SDK, imported when a request
is needed (a build never imports it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from newsletter.errors import NewsletterError
from newsletter.payments.lock import Lock, LockedLink, Mode, load_lock, save_lock
from newsletter.project.campaign import Book
from newsletter.project.settings import Project, StripeSettings

if TYPE_CHECKING:
    from stripe import StripeClient

    from newsletter.project.environment import Secrets

RATE_LIMIT_DELAY = 1.0  # seconds before the first retry after a 429; doubled each time
T = TypeVar("T")


def api_key(secrets: Secrets, *, live_allowed: bool) -> tuple[str, Mode]:
    """The key from STRIPE_API_KEY; a live key only where the project says it sells for real."""
    key = secrets.stripe_api_key
    if not key:
        raise NewsletterError(
            "STRIPE_API_KEY is not set",
            hint="export a test key (sk_test_... or rk_test_...) from the Stripe dashboard",
        )
    mode: Mode = "live" if key.startswith(("sk_live_", "rk_live_")) else "test"
    if mode == "live" and not live_allowed:
        raise NewsletterError(
            "STRIPE_API_KEY is a live key, and this project does not sell for real",
            hint="use a test key, or set `live = true` under [stripe] in newsletter.toml (or pass --live)",
        )
    return key, mode


def make_client(project: Project, key: str) -> StripeClient:
    import stripe  # heavy: only when a request is really needed

    settings = project.settings.stripe or StripeSettings()
    base = project.secrets.stripe_api_base or settings.api_base
    return stripe.StripeClient(
        key,
        base_addresses={"api": base} if base else None,
        max_network_retries=settings.max_network_retries,
    )


class StripeSession:
    """One command's work with Stripe: the key's mode, a client made at the first request, and the
    lock as it stands, saved after every change Stripe confirmed so that none is ever lost."""

    def __init__(self, project: Project, *, live: bool) -> None:
        self.project = project
        self.settings = project.settings.stripe or StripeSettings()
        self.key, self.mode = api_key(self.project.secrets, live_allowed=live or self.settings.live)
        self.lock: Lock = load_lock(project)
        self._client: StripeClient | None = None

    @property
    def client(self) -> StripeClient:
        if self._client is None:
            self._client = make_client(self.project, self.key)
        return self._client

    def call(self, book: Book | None, request: Callable[[StripeClient], T]) -> T:
        """One step, retried after a 429; Stripe's errors become messages that name the book."""
        with stripe_errors(book):
            return retry_rate_limited(partial(request, self.client), self.settings.max_network_retries)

    def record(self, *links: LockedLink) -> None:
        if links:
            self.lock = self.lock.put(*links)
            save_lock(self.project, self.lock)


def replayed(obj: Any) -> bool:
    """Stripe answers a repeated idempotency key with its first answer, as it was then: an object
    switched off since still reads as active there, so such an answer must be fetched anew."""
    response = getattr(obj, "last_response", None)
    headers = getattr(response, "headers", None) or {}
    return any(key.lower() == "idempotent-replayed" and value == "true" for key, value in headers.items())


def retry_rate_limited(call: Callable[[], T], retries: int) -> T:
    """The SDK retries connection errors and 5xx itself, but not 429: that is done here, with backoff.

    Repeating a whole step is safe because every create in it has a deterministic idempotency key.
    """
    import stripe

    for attempt in range(retries):
        try:
            return call()
        except stripe.RateLimitError:
            time.sleep(min(RATE_LIMIT_DELAY * 2**attempt, 8.0))
    return call()


@contextmanager
def stripe_errors(book: Book | None) -> Iterator[None]:
    """Stripe's exceptions become messages that name the book and what to do; the key is never shown."""
    import stripe

    what = f"book '{book.sku}'" if book else "Stripe"
    try:
        yield
    except stripe.AuthenticationError:
        raise NewsletterError(
            f"{what}: Stripe did not accept STRIPE_API_KEY", hint="check the key in the Stripe dashboard"
        ) from None
    except stripe.PermissionError:
        raise NewsletterError(
            f"{what}: the restricted key lacks a permission",
            hint="give the key write access to Products, Prices and Payment Links, or use a secret key",
        ) from None
    except stripe.RateLimitError:
        raise NewsletterError(
            f"{what}: Stripe kept answering 'too many requests' after retrying",
            hint="wait a minute, then rerun",
        ) from None
    except stripe.APIConnectionError:
        raise NewsletterError(
            f"{what}: Stripe could not be reached",
            hint="check the network (and STRIPE_API_BASE); rerun safely",
        ) from None
    except stripe.InvalidRequestError as exc:
        param = f" (parameter {exc.param})" if exc.param else ""
        raise NewsletterError(f"{what}: Stripe refused the request{param}: {exc.user_message}") from None
    except stripe.StripeError as exc:
        raise NewsletterError(
            f"{what}: Stripe answered with an error: {exc.user_message}",
            hint="rerun: nothing is created twice",
        ) from None
